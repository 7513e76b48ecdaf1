//! The contracts between mi-account services, written once and typed.
//!
//! Every service, the gRPC edge and the tests use these types instead of strings, bare
//! integers or private copies: the Mi ID, how a code travels ([`Channel`]), what it proves
//! ([`Purpose`]), the language of its messages ([`Locale`]), wall-clock time as stored
//! ([`UnixMillis`]), how a device describes itself ([`DeviceInfo`]), the machine-readable reason of every error a client can see ([`Reason`])
//! and the rule for free-text fields ([`text::check_lengths`]). The domain layer of a service
//! may import this crate; it has no wire, storage or transport dependency beyond
//! `prost-types` for the one conversion of time to the protobuf timestamp.

mod channel;
mod device;
mod locale;
mod mi_id;
mod purpose;
mod reason;
pub mod text;
mod time;

pub use channel::Channel;
pub use device::{
    DeviceCapability, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm, DeviceProblem,
};
pub use locale::{InvalidLocale, Locale, MAX_LOCALE_LEN, SUPPORTED_LANGUAGES};
pub use mi_id::{InvalidMiId, MiId};
pub use purpose::Purpose;
pub use reason::{ERROR_DOMAIN, Reason};
pub use time::UnixMillis;
