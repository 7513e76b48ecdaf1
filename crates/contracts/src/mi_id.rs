//! The Mi ID: the numeric account id people see and sign in with.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An account's Mi ID: non-zero and small enough for a signed 64-bit database column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct MiId(u64);

/// A number that cannot be a Mi ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidMiId;

impl fmt::Display for InvalidMiId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("must be a Mi ID")
    }
}

impl std::error::Error for InvalidMiId {}

impl MiId {
    /// Accepts any non-zero id that fits the database's signed 64-bit column.
    pub fn new(raw: u64) -> Result<Self, InvalidMiId> {
        if raw == 0 || i64::try_from(raw).is_err() {
            return Err(InvalidMiId);
        }
        Ok(Self(raw))
    }

    /// A fresh random 10-digit id: nothing about sign-up order can be read from it.
    pub fn random() -> Self {
        Self(rand::random_range(1_000_000_000..10_000_000_000))
    }

    /// The id as stored (a database BIGINT).
    pub fn as_i64(self) -> i64 {
        // `new` and `random` guarantee the id fits.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// The id as stored, read back; `None` for a value no Mi ID can have.
    pub fn from_i64(stored: i64) -> Option<Self> {
        u64::try_from(stored)
            .ok()
            .and_then(|raw| Self::new(raw).ok())
    }

    /// The id as shown and sent on the wire.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for MiId {
    type Error = InvalidMiId;

    fn try_from(raw: u64) -> Result<Self, InvalidMiId> {
        Self::new(raw)
    }
}

impl From<MiId> for u64 {
    fn from(mi_id: MiId) -> Self {
        mi_id.0
    }
}

impl fmt::Display for MiId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl std::str::FromStr for MiId {
    type Err = InvalidMiId;

    fn from_str(text: &str) -> Result<Self, InvalidMiId> {
        text.parse::<u64>()
            .map_err(|_| InvalidMiId)
            .and_then(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_values_past_the_signed_column_are_refused() {
        assert_eq!(MiId::new(0), Err(InvalidMiId));
        assert_eq!(MiId::new(u64::MAX), Err(InvalidMiId));
        assert_eq!(MiId::from_i64(-5), None);
        assert_eq!(MiId::from_i64(0), None);
    }

    #[test]
    fn round_trips_through_storage_text_and_serde() {
        let mi_id = MiId::random();
        assert_eq!(MiId::from_i64(mi_id.as_i64()), Some(mi_id));
        assert_eq!(mi_id.to_string().parse::<MiId>(), Ok(mi_id));
        let json = serde_json::to_string(&mi_id).unwrap_or_default();
        assert_eq!(json, mi_id.get().to_string());
        assert!(serde_json::from_str::<MiId>("0").is_err());
    }

    #[test]
    fn random_ids_have_ten_digits() {
        for _ in 0..100 {
            assert_eq!(MiId::random().to_string().len(), 10);
        }
    }
}
