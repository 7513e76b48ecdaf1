//! Device-side calls: a device proves who it is with a device token signed by the key it
//! enrolled (`mi_platform::auth::DeviceClaims`), each token accepted once; then reports its
//! status.

use mi_contracts::{MiId, UnixMillis};
use mi_platform::auth::DeviceClaims;

use super::{DeviceRegistry, DeviceStatus, NetworkType};

/// Why a device token was refused. One variant for every reason, so a caller learns nothing
/// about which devices exist.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeviceAuthError {
    /// Malformed, not signed by the enrolled key of that account's device, expired, too
    /// long-lived or replayed.
    #[error("invalid device token: {0}")]
    Invalid(&'static str),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The device of an authenticated device-side call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceCaller {
    /// The account it is linked to.
    pub mi_id: MiId,
    /// Its device id.
    pub device_id: String,
}

/// What a device reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusReport {
    /// 0 to 100, when it can tell (the edge refuses more than 100).
    pub battery_percent: Option<u32>,
    /// How it reaches the network, when it says.
    pub network: Option<NetworkType>,
}

impl DeviceRegistry {
    /// The device that signed `token`: it names an account's enrolled device, that device's
    /// key signed it, it is live, and its `jti` was never accepted before.
    pub(crate) async fn authenticate_device(
        &self,
        token: &str,
    ) -> Result<DeviceCaller, DeviceAuthError> {
        let claimed =
            DeviceClaims::claimed(token).map_err(|_| DeviceAuthError::Invalid("malformed"))?;
        let mi_id = MiId::new(claimed.mi_id).map_err(|_| DeviceAuthError::Invalid("no account"))?;
        let credential = self
            .store
            .credential(mi_id, &claimed.sub)
            .await?
            .ok_or(DeviceAuthError::Invalid("no enrolled key"))?;
        let now = UnixMillis::now();
        let claims = DeviceClaims::verify(token, &credential, now.as_i64() / 1000)
            .map_err(|_| DeviceAuthError::Invalid("not signed by the device key, or expired"))?;
        let expires_at = UnixMillis::from_i64(claims.exp.saturating_mul(1000));
        if !self
            .store
            .spend_token(mi_id, &claims.sub, &claims.jti, expires_at)
            .await?
        {
            return Err(DeviceAuthError::Invalid("replayed"));
        }
        Ok(DeviceCaller {
            mi_id,
            device_id: claims.sub,
        })
    }

    /// Stores what `device` reported, seen now; returns that time. A device removed between
    /// its authentication and now is refused like a bad token.
    pub(crate) async fn report_status(
        &self,
        device: &DeviceCaller,
        report: StatusReport,
    ) -> Result<UnixMillis, DeviceAuthError> {
        let seen_at = UnixMillis::now();
        let status = DeviceStatus {
            last_seen_at: Some(seen_at),
            battery_percent: report.battery_percent,
            network: report.network,
        };
        if !self
            .store
            .report_status(device.mi_id, &device.device_id, &status)
            .await?
        {
            return Err(DeviceAuthError::Invalid("no enrolled key"));
        }
        Ok(seen_at)
    }
}
