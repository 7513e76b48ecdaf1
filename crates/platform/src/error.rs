//! The closed set of error codes every service returns, mapped once onto `tonic::Status`.
//!
//! Service operations have their own error enums; each maps into a [`ServiceError`], which
//! carries the details a client needs (field violations, retry info, quota, precondition).
//! Internal errors are logged with their cause chain and never leak their text to the client.

use std::collections::HashMap;
use std::time::Duration;

use mi_contracts::Reason;
use mi_contracts::text::TooLong;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub(crate) use mi_contracts::ERROR_DOMAIN;

/// What went wrong, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed; the field violations say where.
    InvalidArgument,
    /// The named entity does not exist.
    NotFound,
    /// The entity to create exists already.
    AlreadyExists,
    /// The system is not in a state that allows the operation.
    FailedPrecondition,
    /// A concurrent change won: read again, then retry.
    Aborted,
    /// A rate limit or quota was hit; retry info says when to try again.
    ResourceExhausted,
    /// The caller is not authenticated.
    Unauthenticated,
    /// The caller may not do this.
    PermissionDenied,
    /// A dependency is down; the call may succeed later.
    Unavailable,
    /// A bug or an unexpected failure.
    Internal,
}

impl ErrorCode {
    /// The gRPC status code for this error code.
    pub fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::Aborted => Code::Aborted,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }

    /// The `ErrorInfo.reason` of an error that names no more precise one.
    pub fn default_reason(self) -> Reason {
        match self {
            Self::InvalidArgument => Reason::InvalidArgument,
            Self::NotFound => Reason::NotFound,
            Self::AlreadyExists => Reason::AlreadyExists,
            Self::FailedPrecondition => Reason::FailedPrecondition,
            Self::Aborted => Reason::Aborted,
            Self::ResourceExhausted => Reason::RateLimited,
            Self::Unauthenticated => Reason::Unauthenticated,
            Self::PermissionDenied => Reason::PermissionDenied,
            Self::Unavailable => Reason::Unavailable,
            Self::Internal => Reason::Internal,
        }
    }
}

/// An error ready to be returned to a gRPC client. Every one carries an `ErrorInfo`: its
/// reason (the code's default when none more precise is set) and machine-readable metadata a
/// UI can use (`field`, `retry_after_seconds`, `attempts_left`, ...).
#[derive(Debug, Clone)]
pub struct ServiceError {
    code: ErrorCode,
    message: String,
    reason: Option<Reason>,
    metadata: HashMap<String, String>,
    // Boxed: the details are large and errors travel through many `Result`s.
    details: Box<ErrorDetails>,
}

impl ServiceError {
    /// An error with a code and a client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            metadata: HashMap::new(),
            details: Box::default(),
        }
    }

    /// INVALID_ARGUMENT naming one bad field.
    pub fn invalid_field(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        Self::new(
            ErrorCode::InvalidArgument,
            format!("invalid {field}: {description}"),
        )
        .with_field_violation(field, description)
        .with_metadata("field", field)
    }

    /// INVALID_ARGUMENT naming every bad field with its problem: "invalid locale: …; region:
    /// …". With one field, its ErrorInfo names it as [`Self::invalid_field`]'s does.
    pub fn invalid_fields<F: AsRef<str>>(violations: Vec<(F, String)>) -> Self {
        if let [(field, problem)] = violations.as_slice() {
            return Self::invalid_field(field.as_ref(), problem.clone());
        }
        let listed = violations
            .iter()
            .map(|(field, problem)| format!("{}: {problem}", field.as_ref()))
            .collect::<Vec<_>>()
            .join("; ");
        let message = if listed.is_empty() {
            "invalid request".to_owned()
        } else {
            format!("invalid {listed}")
        };
        violations.into_iter().fold(
            Self::new(ErrorCode::InvalidArgument, message),
            |error, (field, problem)| error.with_field_violation(field.as_ref(), problem),
        )
    }

    /// RESOURCE_EXHAUSTED with the time after which a retry may succeed.
    pub fn rate_limited(
        subject: &str,
        description: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        let description = description.into();
        let mut error = Self::new(ErrorCode::ResourceExhausted, description.clone());
        error.details.set_retry_info(Some(retry_after));
        error
            .details
            .add_quota_failure_violation(subject, description);
        // Whole seconds, rounded up: retrying at the stated time never comes too early.
        let retry_after_seconds = retry_after.as_millis().div_ceil(1000);
        error
            .with_metadata("retry_after_seconds", retry_after_seconds.to_string())
            .with_metadata("subject", subject)
    }

    /// FAILED_PRECONDITION with a machine-readable reason, e.g. `VERIFICATION_LOCKED`.
    pub fn failed_precondition(
        reason: Reason,
        subject: &str,
        description: impl Into<String>,
    ) -> Self {
        let description = description.into();
        let mut error = Self::new(ErrorCode::FailedPrecondition, description.clone());
        error
            .details
            .add_precondition_failure_violation(reason.as_str(), subject, description);
        error.with_reason(reason)
    }

    /// A sensitive change without a recent password or second factor: the client calls
    /// identity's Reauthenticate (then RefreshSession, for an access token that says so) and
    /// retries.
    pub fn reauthentication_required() -> Self {
        Self::failed_precondition(
            Reason::ReauthenticationRequired,
            "session",
            "this change needs a recent password or second-factor proof",
        )
    }

    /// UNAUTHENTICATED with a machine-readable reason, e.g. `INVALID_ACCESS_TOKEN`.
    pub fn unauthenticated(reason: Reason, description: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, description).with_reason(reason)
    }

    /// INTERNAL: logs the cause chain and tells the client nothing about it. Unless the cause
    /// is a dependency that is down (`crate::outage`): that is UNAVAILABLE, naming the
    /// dependency in the metadata, so that clients retry later instead of reporting a bug.
    pub fn internal(error: &anyhow::Error) -> Self {
        if let Some(dependency) = crate::outage::unreachable_dependency(error) {
            tracing::warn!(%dependency, error = format!("{error:#}"), "dependency unavailable");
            return Self::unavailable(dependency);
        }
        tracing::error!(error = format!("{error:#}"), "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// UNAVAILABLE because `dependency` cannot be reached now; a retry after a second may pass.
    pub fn unavailable(dependency: crate::outage::Dependency) -> Self {
        let mut error = Self::new(
            ErrorCode::Unavailable,
            "the service cannot reach a dependency; try again shortly",
        );
        error.details.set_retry_info(Some(Duration::from_secs(1)));
        error.with_metadata("dependency", dependency.as_str())
    }

    /// Adds a field violation to the `BadRequest` detail.
    pub fn with_field_violation(mut self, field: &str, description: impl Into<String>) -> Self {
        self.details.add_bad_request_violation(field, description);
        self
    }

    /// Sets the machine-readable reason of the `ErrorInfo` detail.
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds a machine-readable value to the `ErrorInfo` metadata, e.g. `attempts_left`.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }
}

/// INVALID_ARGUMENT naming every free-text field over its documented maximum.
impl From<TooLong> for ServiceError {
    fn from(too_long: TooLong) -> Self {
        let TooLong(violations) = too_long;
        Self::invalid_fields(violations)
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let ServiceError {
            code,
            message,
            reason,
            metadata,
            mut details,
        } = error;
        let reason = reason.unwrap_or_else(|| code.default_reason());
        details.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
        Status::with_error_details(code.grpc_code(), message, *details)
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    fn error_info(status: &Status) -> (String, HashMap<String, String>) {
        let details = status.get_error_details();
        let info = details.error_info().expect("every error carries ErrorInfo");
        (info.reason.clone(), info.metadata.clone())
    }

    #[test]
    fn every_error_carries_error_info_with_a_reason() {
        let status = Status::from(ServiceError::new(
            ErrorCode::NotFound,
            "no such verification",
        ));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(error_info(&status).0, "NOT_FOUND");

        let status = Status::from(
            ServiceError::new(ErrorCode::NotFound, "gone").with_reason(Reason::VerificationExpired),
        );
        assert_eq!(error_info(&status).0, "VERIFICATION_EXPIRED");
    }

    #[test]
    fn limits_and_fields_are_machine_readable() {
        let status = Status::from(ServiceError::rate_limited(
            "destination",
            "too many codes",
            Duration::from_millis(59_001),
        ));
        let (reason, metadata) = error_info(&status);
        assert_eq!(reason, "RATE_LIMITED");
        assert_eq!(metadata["retry_after_seconds"], "60");
        assert_eq!(metadata["subject"], "destination");

        let status = Status::from(ServiceError::invalid_field("locale", "not supported"));
        let (reason, metadata) = error_info(&status);
        assert_eq!(reason, "INVALID_ARGUMENT");
        assert_eq!(metadata["field"], "locale");
    }

    #[test]
    fn a_dependency_outage_is_unavailable_not_internal() {
        let down = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("cannot begin");
        let status = Status::from(ServiceError::internal(&down));
        assert_eq!(status.code(), Code::Unavailable);
        let (reason, metadata) = error_info(&status);
        assert_eq!(reason, "UNAVAILABLE");
        assert_eq!(metadata["dependency"], "database");

        let bug = anyhow::anyhow!("unexpected state");
        assert_eq!(
            Status::from(ServiceError::internal(&bug)).code(),
            Code::Internal
        );
    }

    #[test]
    fn several_bad_fields_are_each_named() {
        let status = Status::from(ServiceError::invalid_fields(vec![
            ("region", "unknown".into()),
            ("locale", "not supported".into()),
        ]));
        assert_eq!(
            status.message(),
            "invalid region: unknown; locale: not supported"
        );
        let violations = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .len();
        assert_eq!(violations, 2);
        let one = Status::from(ServiceError::invalid_fields(vec![(
            "region",
            "unknown".into(),
        )]));
        assert_eq!(one.message(), "invalid region: unknown");
        assert_eq!(error_info(&one).1["field"], "region");
    }
}
