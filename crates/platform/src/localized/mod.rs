//! The text of an error for the person using the app: every error that carries an `ErrorInfo`
//! also carries a `google.rpc.LocalizedMessage` in the person's language (English or
//! Simplified Chinese), while the status message stays a short English text for developers.
//!
//! The texts are one catalog per language, keyed by `ErrorInfo.reason`, with the `ErrorInfo`
//! metadata as their values (`crates/platform/error-messages/*.toml`, [`catalog`]). One tower
//! layer over every port adds them ([`layer`]): it reads the reason and metadata from the
//! error's details, exactly as the client will, so the developer message, the machine-readable
//! details and the person's text cannot disagree, every error of every service gets its text
//! (including those built outside a service's error mapping, such as a missing access token),
//! and no error mapping has to carry a locale.
//!
//! The language is chosen in this order: the request's own locale field (SendCode, SignUp, …),
//! the signed-in account's locale, the `accept-language` metadata, then English. A handler
//! that knows one of the first two says so with [`prefer_request_locale`] or
//! [`prefer_account_locale`] before it can fail.

mod catalog;
mod choice;
mod layer;

pub use self::choice::{prefer_account_locale, prefer_request_locale};
pub(crate) use self::layer::LocalizeErrorsLayer;
