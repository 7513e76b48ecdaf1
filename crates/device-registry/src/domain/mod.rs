//! Devices, free of gRPC and SQL.

/// A device linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The id the device reports for itself.
    pub device_id: String,
    /// The account it is linked to.
    pub mi_id: u64,
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2".
    pub os: String,
    /// The name the person gave it.
    pub name: String,
    /// Milliseconds since the epoch.
    pub linked_at: i64,
}
