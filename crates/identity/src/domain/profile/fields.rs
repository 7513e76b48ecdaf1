//! The profile fields and their rules; SignUp checks the same ones.

use mi_contracts::{Locale, text};

/// The most characters a display name may have.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Which profile fields to change, with their new values (already checked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New region.
    pub region: Option<String>,
    /// New locale.
    pub locale: Option<String>,
}

impl ProfileUpdate {
    /// Reads a field mask and the values it names; the error names the bad field.
    pub fn parse(
        paths: &[String],
        display_name: &str,
        region: &str,
        locale: &str,
    ) -> Result<Self, (&'static str, String)> {
        if paths.is_empty() {
            return Err((
                "update_mask",
                "name at least one of display_name, region, locale".into(),
            ));
        }
        let mut update = Self::default();
        for path in paths {
            match path.as_str() {
                "display_name" => {
                    update.display_name = Some(
                        parse_display_name(display_name)
                            .map_err(|problem| ("display_name", problem))?,
                    );
                }
                "region" => {
                    update.region =
                        Some(parse_region(region).map_err(|problem| ("region", problem))?)
                }
                "locale" => {
                    update.locale = Some(
                        Locale::parse(locale)
                            .map(Locale::into_string)
                            .map_err(|problem| ("locale", problem.to_string()))?,
                    )
                }
                other => {
                    return Err((
                        "update_mask",
                        format!("unknown path {other:?}; use display_name, region or locale"),
                    ));
                }
            }
        }
        Ok(update)
    }
}

/// An ISO 3166-1 alpha-2 region such as `IN`, upper-cased.
pub fn parse_region(raw: &str) -> Result<String, String> {
    let region = raw.trim().to_ascii_uppercase();
    if region.len() != 2 || !region.chars().all(|c| c.is_ascii_uppercase()) {
        return Err("must be an ISO 3166-1 alpha-2 code such as IN or CN".into());
    }
    Ok(region)
}

/// A display name: trimmed, at most [`MAX_DISPLAY_NAME_CHARS`] characters, no control or hidden
/// format characters; may be empty.
pub fn parse_display_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "must be at most {MAX_DISPLAY_NAME_CHARS} characters"
        ));
    }
    text::check_displayed(name)?;
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_fields_are_checked() {
        assert_eq!(parse_region(" in ").expect("region"), "IN");
        assert!(parse_region("India").is_err());
        assert!(parse_display_name(&"x".repeat(65)).is_err());
        let update =
            ProfileUpdate::parse(&["locale".into()], "ignored", "??", "zh_cn").expect("mask");
        assert_eq!(update.locale.as_deref(), Some("zh-CN"));
        for refused in ["english!", "fr", "en-GB-oxendict"] {
            assert!(ProfileUpdate::parse(&["locale".into()], "", "", refused).is_err());
        }
        assert_eq!(update.region, None);
        assert!(ProfileUpdate::parse(&[], "", "", "").is_err());
        assert!(ProfileUpdate::parse(&["email".into()], "", "", "").is_err());
    }
}
