//! The Mi ID: the number an account is known and signed in by.

/// A numeric account id, as people type it to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MiId(u64);

impl MiId {
    /// Accepts any non-zero id that fits the database's signed 64-bit column.
    pub fn parse(raw: u64) -> Result<Self, String> {
        if raw == 0 || i64::try_from(raw).is_err() {
            return Err("must be a Mi ID".into());
        }
        Ok(Self(raw))
    }

    /// A fresh random 10-digit id: nothing about sign-up order can be read from it.
    pub fn random() -> Self {
        Self(rand::random_range(1_000_000_000..10_000_000_000))
    }

    /// The id as stored.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// The id as stored, read back.
    pub fn from_i64(stored: i64) -> Self {
        Self(u64::try_from(stored).unwrap_or_default())
    }

    /// The id as shown.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for MiId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0)
    }
}
