//! Accounts, free of gRPC and SQL.

/// A numeric account id, as people type it to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiId(u64);

impl MiId {
    /// Accepts any non-zero id that fits the database's signed 64-bit column.
    pub fn parse(raw: u64) -> Result<Self, String> {
        if raw == 0 || i64::try_from(raw).is_err() {
            return Err("must be a Mi ID".into());
        }
        Ok(Self(raw))
    }

    /// The id as stored.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// The id as shown.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An account's public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its Mi ID.
    pub mi_id: MiId,
    /// The name shown to the person.
    pub display_name: String,
    /// ISO 3166-1 alpha-2 region.
    pub region: String,
    /// BCP 47 language tag.
    pub locale: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}
