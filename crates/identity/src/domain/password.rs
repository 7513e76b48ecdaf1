//! Passwords: the policy a new one must meet, and Argon2id hashing with a pepper on a bounded
//! pool of blocking threads.

use std::cell::RefCell;
use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use mi_platform::cpu::CpuPool;
use mi_platform::crypto::{SecretKey, constant_time_eq};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Argon2Settings, PasswordSettings};

/// Why a new password is refused; the text is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PasswordProblem(pub String);

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

/// A stored password hash (PHC string).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(pub String);

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("StoredHash(..)")
    }
}

/// The outcome of checking a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Wrong password.
    Wrong,
    /// Right password; the hash is current.
    Right,
    /// Right password, but hashed with old parameters: store this new hash.
    RightRehashed(StoredHash),
}

impl PasswordCheck {
    /// Whether the password was right.
    pub fn is_right(&self) -> bool {
        !matches!(self, Self::Wrong)
    }
}

/// Hashes and checks passwords with Argon2id and a pepper, off the async workers.
#[derive(Clone)]
pub struct PasswordHasher {
    pool: CpuPool,
    pepper: Arc<SecretKey>,
    params: Params,
    dummy_hash: StoredHash,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PasswordHasher")
            .field("threads", &self.pool.threads())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the configured cost, on a pool of `threads` (default: one per core).
    pub fn new(
        argon2: &Argon2Settings,
        pepper: SecretKey,
        threads: Option<usize>,
    ) -> anyhow::Result<Self> {
        let params = Params::new(
            argon2.memory_kib,
            argon2.iterations,
            argon2.parallelism,
            None,
        )
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        let pepper = Arc::new(pepper);
        // Checked against when the identifier is unknown, so that answer takes as long as a
        // wrong password.
        let dummy_hash = hash_now(&pepper, &params, &uuid::Uuid::new_v4().to_string())?;
        // This thread is not a pool thread: give its work memory back.
        WORK_MEMORY.with(|memory| memory.take());
        Ok(Self {
            pool: CpuPool::new(threads),
            pepper,
            params,
            dummy_hash,
        })
    }

    /// Checks a new password against `policy` and hashes it, both on the pool (zxcvbn is CPU
    /// work too); `personal` holds the contacts and name it must not contain.
    pub async fn hash_new(
        &self,
        policy: &PasswordPolicy,
        password: &SecretString,
        personal: Vec<String>,
    ) -> anyhow::Result<Result<StoredHash, PasswordProblem>> {
        let (pepper, params) = (Arc::clone(&self.pepper), self.params.clone());
        let (policy, password) = (policy.clone(), password.clone());
        self.pool
            .run(move || {
                let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
                if let Err(problem) = policy.check(password.expose_secret(), &personal) {
                    return Ok(Err(problem));
                }
                hash_now(&pepper, &params, password.expose_secret()).map(Ok)
            })
            .await?
    }

    /// Checks a password against a stored hash (or, for an unknown account, the dummy hash,
    /// always `Wrong`), rehashing when the parameters changed.
    pub async fn check(
        &self,
        password: &SecretString,
        stored: Option<&StoredHash>,
    ) -> anyhow::Result<PasswordCheck> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).clone();
        let (pepper, params) = (Arc::clone(&self.pepper), self.params.clone());
        let password = password.clone();
        self.pool
            .run(move || -> anyhow::Result<PasswordCheck> {
                let parsed =
                    PasswordHash::new(&stored.0).context("stored hash is not a PHC string")?;
                let right = verify_with_reused_memory(&pepper, &parsed, password.expose_secret())?;
                if !(right && known) {
                    return Ok(PasswordCheck::Wrong);
                }
                let current = Params::try_from(&parsed).is_ok_and(|used| {
                    (used.m_cost(), used.t_cost(), used.p_cost())
                        == (params.m_cost(), params.t_cost(), params.p_cost())
                }) && parsed.algorithm == Algorithm::Argon2id.ident();
                if current {
                    return Ok(PasswordCheck::Right);
                }
                Ok(PasswordCheck::RightRehashed(hash_now(
                    &pepper,
                    &params,
                    password.expose_secret(),
                )?))
            })
            .await?
    }
}

/// Bytes of hash output, argon2's default.
const HASH_LENGTH: usize = 32;

thread_local! {
    /// The Argon2 work memory of a pool thread, kept between hashes: a fresh 19 MiB allocation
    /// per hash is what made the allocator hold hundreds of MiB after a burst of sign-ups.
    static WORK_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Checks `password` against a stored PHC hash, with the parameters and salt the hash names,
/// computing into this thread's reused memory and comparing in constant time.
fn verify_with_reused_memory(
    pepper: &SecretKey,
    stored: &PasswordHash<'_>,
    password: &str,
) -> anyhow::Result<bool> {
    let params = Params::try_from(stored)
        .map_err(|error| anyhow::anyhow!("stored hash has invalid parameters: {error}"))?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        anyhow::bail!("stored hash lacks its salt or output");
    };
    let mut salt_buffer = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|error| anyhow::anyhow!("stored salt is not base64: {error}"))?;
    let mut output = vec![0u8; expected.len()];
    compute(pepper, &params, password, salt, &mut output)?;
    Ok(constant_time_eq(&output, expected.as_bytes()))
}

/// Argon2id of `password` and `salt` into `output`, in this thread's reused work memory.
fn compute(
    pepper: &SecretKey,
    params: &Params,
    password: &str,
    salt: &[u8],
    output: &mut [u8],
) -> anyhow::Result<()> {
    WORK_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        memory.resize(params.block_count(), Block::new());
        argon2(pepper, params)?
            .hash_password_into_with_memory(password.as_bytes(), salt, output, &mut memory[..])
            .map_err(|error| anyhow::anyhow!("cannot hash password: {error}"))
    })
}

fn argon2<'key>(pepper: &'key SecretKey, params: &Params) -> anyhow::Result<Argon2<'key>> {
    Argon2::new_with_secret(
        pepper.as_bytes(),
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
    )
    .map_err(|error| anyhow::anyhow!("cannot set up argon2: {error}"))
}

fn hash_now(pepper: &SecretKey, params: &Params, password: &str) -> anyhow::Result<StoredHash> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|error| anyhow::anyhow!("cannot decode the salt: {error}"))?;
    let mut output = [0u8; HASH_LENGTH];
    compute(pepper, params, password, salt_bytes, &mut output)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|error| anyhow::anyhow!("cannot encode argon2 parameters: {error}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(
            Output::new(&output)
                .map_err(|error| anyhow::anyhow!("invalid hash output: {error}"))?,
        ),
    };
    Ok(StoredHash(hash.to_string()))
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

    #[tokio::test]
    async fn hashes_check_and_rehash_when_parameters_change() {
        let cheap = Argon2Settings {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        };
        let pepper = SecretKey::generate();
        let hasher = PasswordHasher::new(&cheap, pepper.clone(), Some(1)).expect("hasher");
        let password = SecretString::from("Tangerine-Orbit-47");
        let stored = hasher
            .hash_new(&policy(), &password, Vec::new())
            .await
            .expect("hash")
            .expect("strong password");
        // A standard PHC string: argon2's own verifier accepts it.
        let parsed = PasswordHash::new(&stored.0).expect("phc string");
        let standard = Argon2::new_with_secret(
            pepper.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        )
        .expect("argon2");
        argon2::password_hash::PasswordVerifier::verify_password(
            &standard,
            b"Tangerine-Orbit-47",
            &parsed,
        )
        .expect("the standard verifier accepts the hash");
        assert_eq!(
            hasher.check(&password, Some(&stored)).await.expect("check"),
            PasswordCheck::Right
        );
        let wrong = SecretString::from("Tangerine-Orbit-48");
        assert_eq!(
            hasher.check(&wrong, Some(&stored)).await.expect("check"),
            PasswordCheck::Wrong
        );
        assert_eq!(
            hasher.check(&password, None).await.expect("check"),
            PasswordCheck::Wrong
        );

        let other_pepper =
            PasswordHasher::new(&cheap, SecretKey::generate(), Some(1)).expect("hasher");
        assert_eq!(
            other_pepper
                .check(&password, Some(&stored))
                .await
                .expect("check"),
            PasswordCheck::Wrong
        );

        let stronger = Argon2Settings {
            memory_kib: 9 * 1024,
            ..cheap
        };
        let upgraded = PasswordHasher::new(&stronger, pepper, Some(1)).expect("hasher");
        let PasswordCheck::RightRehashed(new_hash) = upgraded
            .check(&password, Some(&stored))
            .await
            .expect("check")
        else {
            panic!("expected a rehash");
        };
        assert!(new_hash.0.contains("m=9216"), "{}", new_hash.0);
        assert_eq!(
            upgraded
                .check(&password, Some(&new_hash))
                .await
                .expect("check"),
            PasswordCheck::Right
        );
    }
}
