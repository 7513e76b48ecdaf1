//! Page sizes for list RPCs, the same rule everywhere.

use crate::ServiceError;

/// The page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The largest page size; larger requests get this many.
pub const MAX_PAGE_SIZE: i64 = 500;

/// The effective page size for a request's `page_size`.
pub fn page_size(requested: i32) -> Result<i64, ServiceError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        negative if negative < 0 => Err(ServiceError::invalid_field(
            "page_size",
            "must not be negative",
        )),
        positive => Ok(i64::from(positive).min(MAX_PAGE_SIZE)),
    }
}
