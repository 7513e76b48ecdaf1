//! Paging for list RPCs: one page-size rule and one page-token scheme everywhere.
//!
//! Lists are paged by key (keyset paging), never by offset, so a page does not shift when
//! items are added or removed before it. The page token is the sort key of the last item of
//! the previous page, as URL-safe base64 of its JSON: opaque to clients, typed for the
//! service, which names its key type (a message id, or a link time and a device id).
//!
//! A handler reads the request with [`PageRequest::from_wire`], asks its store for
//! [`PageRequest::fetch_limit`] rows after [`PageRequest::after`], and cuts them with
//! [`PageRequest::page`], which also writes the next token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mi_contracts::text;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ServiceError;

/// The page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The largest page size; larger requests get this many.
pub const MAX_PAGE_SIZE: i64 = 500;

/// The longest page token accepted: the tokens this module writes are far shorter.
pub const MAX_PAGE_TOKEN_CHARS: usize = 512;

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

/// A list request's paging: how many items, and the key the page starts after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    /// Items in the page.
    pub size: i64,
    /// The key of the last item of the previous page; `None` for the first page.
    pub after: Option<K>,
}

/// One page of a list and the token of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, at most the requested size.
    pub items: Vec<T>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl<K: Serialize + DeserializeOwned> PageRequest<K> {
    /// Reads a request's `page_size` and `page_token`.
    pub fn from_wire(page_size: i32, page_token: &str) -> Result<Self, ServiceError> {
        text::check_lengths(&[("page_token", page_token, MAX_PAGE_TOKEN_CHARS)])?;
        let after = match page_token {
            "" => None,
            token => Some(decode_token(token).ok_or_else(|| {
                ServiceError::invalid_field("page_token", "is not a token this service returned")
            })?),
        };
        Ok(Self {
            size: self::page_size(page_size)?,
            after,
        })
    }

    /// How many rows to fetch: one more than the page, which tells whether another follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts rows fetched with [`Self::fetch_limit`] to the page; `key` gives an item's sort key.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        let has_more = rows.len() > size;
        rows.truncate(size);
        let next_page_token = match rows.last() {
            Some(last) if has_more => encode_token(&key(last)),
            _ => String::new(),
        };
        Page {
            items: rows,
            next_page_token,
        }
    }
}

fn encode_token<K: Serialize>(key: &K) -> String {
    // A key is plain data (strings and numbers), which always serializes.
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_token<K: DeserializeOwned>(token: &str) -> Option<K> {
    let json = URL_SAFE_NO_PAD.decode(token).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Key = (i64, String);

    #[test]
    fn the_next_token_names_the_last_item_and_reads_back() {
        let first = PageRequest::<Key>::from_wire(2, "").expect("first page");
        assert_eq!((first.size, first.after.clone()), (2, None));
        assert_eq!(first.fetch_limit(), 3);
        let rows = vec![
            (30, "c".to_owned()),
            (20, "b".to_owned()),
            (10, "a".to_owned()),
        ];
        let page = first.page(rows, Clone::clone);
        assert_eq!(page.items.len(), 2);
        let second = PageRequest::<Key>::from_wire(2, &page.next_page_token).expect("next page");
        assert_eq!(second.after, Some((20, "b".to_owned())));
    }

    #[test]
    fn the_last_page_has_no_token() {
        let request = PageRequest::<String>::from_wire(0, "").expect("request");
        assert_eq!(request.size, DEFAULT_PAGE_SIZE);
        let page = request.page(vec!["only".to_owned()], Clone::clone);
        assert_eq!(page.next_page_token, "");
    }

    #[test]
    fn foreign_tokens_and_negative_sizes_are_refused() {
        for token in ["not base64!", "bm90IGpzb24", "MTI"] {
            assert!(
                PageRequest::<Key>::from_wire(10, token).is_err(),
                "{token} accepted"
            );
        }
        assert!(PageRequest::<String>::from_wire(-1, "").is_err());
        assert_eq!(
            PageRequest::<String>::from_wire(100_000, "")
                .ok()
                .map(|request| request.size),
            Some(MAX_PAGE_SIZE)
        );
    }
}
