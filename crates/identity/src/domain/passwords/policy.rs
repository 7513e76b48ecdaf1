//! The policy a new password must meet: length, character mix, no personal words, and a
//! zxcvbn strength score.

use super::{PasswordProblem, PasswordSettings};

/// The rules a new password must meet.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    settings: PasswordSettings,
}

impl PasswordPolicy {
    /// The configured policy.
    pub fn new(settings: PasswordSettings) -> Self {
        Self { settings }
    }

    /// Longer than any password the policy accepts: such a password is never hashed (it can
    /// only be wrong, and the hashing worker's frames are bounded).
    pub fn too_long(&self, password: &str) -> bool {
        // Bytes bound characters from above: most over-long passwords need no counting.
        password.len() > self.settings.max_length
            && password.chars().count() > self.settings.max_length
    }

    /// Checks `password` for an account whose contacts and name are `personal`.
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), PasswordProblem> {
        let settings = &self.settings;
        let length = password.chars().count();
        if length < settings.min_length || length > settings.max_length {
            return Err(PasswordProblem(format!(
                "must be {} to {} characters long",
                settings.min_length, settings.max_length
            )));
        }
        if settings.require_mixed_case
            && !(password.chars().any(char::is_lowercase)
                && password.chars().any(char::is_uppercase))
        {
            return Err(PasswordProblem(
                "must mix upper-case and lower-case letters".into(),
            ));
        }
        if settings.require_digit_or_symbol && password.chars().all(char::is_alphabetic) {
            return Err(PasswordProblem("must contain a digit or a symbol".into()));
        }
        let lowered = password.to_lowercase();
        let personal_parts = personal_words(personal);
        if personal_parts
            .iter()
            .any(|part| lowered.contains(part.as_str()))
        {
            return Err(PasswordProblem(
                "must not contain your phone number, email address or name".into(),
            ));
        }
        let inputs: Vec<&str> = personal_parts.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        let score = u8::from(estimate.score());
        if score < settings.min_strength_score {
            let hint = estimate
                .feedback()
                .and_then(|feedback| feedback.warning().map(|warning| warning.to_string()))
                .unwrap_or_else(|| "add more words or characters that are hard to guess".into());
            return Err(PasswordProblem(format!("is too easy to guess: {hint}")));
        }
        Ok(())
    }
}

/// The pieces of contacts and names a password must not contain: the email's local part, the
/// phone number's last 8 digits, each name word, ignoring pieces shorter than 4 characters.
fn personal_words(personal: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    for item in personal {
        let lowered = item.trim().to_lowercase();
        if let Some((local, _)) = lowered.split_once('@') {
            words.push(local.to_owned());
        } else if lowered.starts_with('+') {
            let digits: String = lowered.chars().filter(char::is_ascii_digit).collect();
            let tail_start = digits.len().saturating_sub(8);
            words.push(digits[tail_start..].to_owned());
        } else {
            words.extend(lowered.split_whitespace().map(str::to_owned));
        }
    }
    words.retain(|word| word.chars().count() >= 4);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordSettings::default())
    }

    #[test]
    fn the_policy_explains_each_refusal() {
        let check = |password: &str| {
            policy().check(
                password,
                &["+8613800138000", "jane.doe@example.com", "Jane Doe"],
            )
        };
        assert!(check("Short1!").expect_err("short").0.contains("8 to 128"));
        assert!(
            check("alllowercase-1234")
                .expect_err("case")
                .0
                .contains("upper-case")
        );
        assert!(
            check("NoDigitsOrSymbolsHere")
                .expect_err("digit")
                .0
                .contains("digit")
        );
        assert!(
            check("Xx13800138000!")
                .expect_err("phone")
                .0
                .contains("phone")
        );
        assert!(
            check("Jane.Doe.Rocks!9")
                .expect_err("email")
                .0
                .contains("email")
        );
        assert!(
            check("Password123!")
                .expect_err("guessable")
                .0
                .contains("guess")
        );
        check("Tangerine-Orbit-47").expect("strong");
    }
}
