//! Connection URLs without their credentials, for error messages and logs: the one place that
//! decides how a URL with a password is shown (PostgreSQL, Redis, and any other server URL).

/// `url` with everything between the scheme and the last `@` hidden: `redis://mi:secret@redis:6379`
/// becomes `redis://***@redis:6379`. The last `@` counts, so an unescaped `@` in a password
/// hides too much rather than too little. A URL without credentials is returned as it is.
pub(crate) fn url(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let host_and_rest = &url[at + 1..];
    match url.split_once("://") {
        Some((scheme, _)) if scheme.len() < at => format!("{scheme}://***@{host_and_rest}"),
        _ => format!("***@{host_and_rest}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_hidden_and_the_server_is_kept() {
        for (url, shown) in [
            ("redis://:s3cret@redis:6379/0", "redis://***@redis:6379/0"),
            ("rediss://mi:s3cret@redis:6380", "rediss://***@redis:6380"),
            (
                "postgres://mi:p@ss@db:5432/mi_identity",
                "postgres://***@db:5432/mi_identity",
            ),
            ("user:s3cret@kafka:9092", "***@kafka:9092"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ] {
            assert_eq!(super::url(url), shown);
        }
    }
}
