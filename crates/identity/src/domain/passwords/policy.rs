//! The policy a new password must meet: length, no personal words, not on the breached list,
//! and a zxcvbn strength score; character-mix rules only when configured (NIST SP 800-63B-4
//! advises against them, so they are off by default).

use super::{PasswordProblem, PasswordSettings, breached};

/// Advice added to every refusal: the character mix is advice, not a rule, by default.
const GUIDANCE: &str = "a long phrase, or a mix of letters, digits and symbols, that is not a common password is hard to guess";

/// A refusal for breaking `rule`, with the advice.
fn refusal(rule: &str) -> PasswordProblem {
    PasswordProblem(format!("{rule}; {GUIDANCE}"))
}

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
            return Err(refusal(&format!(
                "must be {} to {} characters long",
                settings.min_length, settings.max_length
            )));
        }
        if settings.require_mixed_case
            && !(password.chars().any(char::is_lowercase)
                && password.chars().any(char::is_uppercase))
        {
            return Err(refusal("must mix upper-case and lower-case letters"));
        }
        if settings.require_digit_or_symbol && password.chars().all(char::is_alphabetic) {
            return Err(refusal("must contain a digit or a symbol"));
        }
        let lowered = password.to_lowercase();
        let personal_parts = personal_words(personal);
        if personal_parts
            .iter()
            .any(|part| lowered.contains(part.as_str()))
        {
            return Err(refusal(
                "must not contain your phone number, email address or name",
            ));
        }
        if breached::is_breached(password) {
            return Err(refusal(
                "appears in lists of passwords exposed in data breaches",
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
            return Err(refusal(&format!("is too easy to guess: {hint}")));
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

    const PERSONAL: [&str; 3] = ["+8613800138000", "jane.doe@example.com", "Jane Doe"];

    /// The policy with the composition rules switched on, as a deployment may configure.
    fn with_composition_rules() -> PasswordPolicy {
        PasswordPolicy::new(PasswordSettings {
            require_mixed_case: true,
            require_digit_or_symbol: true,
            ..PasswordSettings::default()
        })
    }

    #[test]
    fn the_policy_explains_each_refusal() {
        let check = |password: &str| with_composition_rules().check(password, &PERSONAL);
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

    #[test]
    fn by_default_length_strength_and_the_breached_list_decide_not_the_character_mix() {
        let policy = PasswordPolicy::new(PasswordSettings::default());
        let check = |password: &str| policy.check(password, &PERSONAL);
        check("tangerine orbit comet").expect("no upper case, digit or symbol needed");
        check("TANGERINE-ORBIT-COMET").expect("no lower case needed");
        for breached in ["password1", "qwertyuiop", "iloveyou123", "Password1"] {
            let problem = check(breached).expect_err(breached).0;
            assert!(problem.contains("data breaches"), "{breached}: {problem}");
            assert!(problem.contains("letters, digits and symbols"), "{problem}");
        }
        let short = check("Ab3-xyz").expect_err("short").0;
        assert!(short.contains("8 to 128"), "{short}");
        assert!(short.contains("letters, digits and symbols"), "{short}");
        let guessable = check("Password123!").expect_err("guessable").0;
        assert!(guessable.contains("guess"), "{guessable}");
    }
}
