//! Argon2id password hashing with a pepper, off the async workers (`argon2id.rs` says where).

use std::path::PathBuf;

use ::argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use ::argon2::{Algorithm, KeyId, Params, ParamsBuilder, Version};
use anyhow::Context;
use mi_platform::crypto::{SecretKey, constant_time_eq};
use mi_workers::cpu::CpuPool;
use secrecy::{ExposeSecret, SecretString};

use super::argon2id::{self, Argon2Job, Engine, HashKeys};
use super::pepper::PASSWORD_KEY_ID;
use super::{Argon2Settings, PasswordPolicy};

/// Why a new password is refused; the text is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PasswordProblem(pub String);

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
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    /// Runs the policy check (zxcvbn is CPU work too), and hashes when there are no workers.
    pool: CpuPool,
    engine: Engine,
    params: Params,
    dummy_hash: StoredHash,
}

impl PasswordHasher {
    /// A hasher with the configured cost, `threads` hashes at once (default: one per core),
    /// computed by worker processes of `workers` when given, else by threads of this process.
    pub fn new(
        argon2: &Argon2Settings,
        pepper: SecretKey,
        threads: Option<usize>,
        workers: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        // The key id marks hashes made with the derived key (`pepper.rs`).
        let key_id = KeyId::new(PASSWORD_KEY_ID)
            .map_err(|error| anyhow::anyhow!("invalid argon2 key id: {error}"))?;
        let params = ParamsBuilder::new()
            .m_cost(argon2.memory_kib)
            .t_cost(argon2.iterations)
            .p_cost(argon2.parallelism)
            .keyid(key_id)
            .build()
            .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        // Checked against when the identifier is unknown, so that answer takes as long as a
        // wrong password.
        let dummy_password = SecretString::from(uuid::Uuid::new_v4().to_string());
        let salt = SaltString::generate(&mut ::argon2::password_hash::rand_core::OsRng);
        let output = argon2id::compute(
            &HashKeys::new(pepper.clone()),
            &Argon2Job::new(&params, &salt_bytes(&salt)?, &dummy_password, HASH_LENGTH),
        )?;
        let dummy_hash = phc_string(&params, &salt, &output)?;
        // This thread hashes only once: give its work memory back.
        argon2id::release_work_memory();
        let pool = CpuPool::new(threads);
        let engine = Engine::new(workers, pool.threads(), pool.clone(), pepper);
        Ok(Self {
            pool,
            engine,
            params,
            dummy_hash,
        })
    }

    /// Checks a new password against `policy` and hashes it; `personal` holds the contacts
    /// and name it must not contain.
    pub async fn hash_new(
        &self,
        policy: &PasswordPolicy,
        password: &SecretString,
        personal: Vec<String>,
    ) -> anyhow::Result<Result<StoredHash, PasswordProblem>> {
        let (policy, candidate) = (policy.clone(), password.clone());
        let checked = self
            .pool
            .run(move || {
                let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
                policy.check(candidate.expose_secret(), &personal)
            })
            .await?;
        if let Err(problem) = checked {
            return Ok(Err(problem));
        }
        self.hash_now(password).await.map(Ok)
    }

    /// Checks a password against a stored hash (or, for an unknown account, the dummy hash,
    /// always `Wrong`), rehashing when the parameters or the key changed: a hash without the
    /// derived key's id was made with the pepper itself and is checked with it. A password longer than `policy`
    /// allows is `Wrong` without hashing, whoever's it is (as Django answers one over its cap):
    /// it cannot be right, and the workers' frames are bounded.
    pub async fn check(
        &self,
        policy: &PasswordPolicy,
        password: &SecretString,
        stored: Option<&StoredHash>,
    ) -> anyhow::Result<PasswordCheck> {
        if policy.too_long(password.expose_secret()) {
            return Ok(PasswordCheck::Wrong);
        }
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash);
        let parsed = PasswordHash::new(&stored.0).context("stored hash is not a PHC string")?;
        let used = Params::try_from(&parsed)
            .map_err(|error| anyhow::anyhow!("stored hash has invalid parameters: {error}"))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            anyhow::bail!("stored hash lacks its salt or output");
        };
        let mut salt_buffer = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buffer)
            .map_err(|error| anyhow::anyhow!("stored salt is not base64: {error}"))?;
        let output = self
            .engine
            .compute(Argon2Job::new(&used, salt, password, expected.len()))
            .await?;
        if !(constant_time_eq(&output, expected.as_bytes()) && known) {
            return Ok(PasswordCheck::Wrong);
        }
        let current = (used.m_cost(), used.t_cost(), used.p_cost(), used.keyid())
            == (
                self.params.m_cost(),
                self.params.t_cost(),
                self.params.p_cost(),
                self.params.keyid(),
            )
            && parsed.algorithm == Algorithm::Argon2id.ident();
        if current {
            return Ok(PasswordCheck::Right);
        }
        Ok(PasswordCheck::RightRehashed(self.hash_now(password).await?))
    }

    /// Hashes `password` with a fresh salt and the current parameters.
    async fn hash_now(&self, password: &SecretString) -> anyhow::Result<StoredHash> {
        let salt = SaltString::generate(&mut ::argon2::password_hash::rand_core::OsRng);
        let output = self
            .engine
            .compute(Argon2Job::new(
                &self.params,
                &salt_bytes(&salt)?,
                password,
                HASH_LENGTH,
            ))
            .await?;
        phc_string(&self.params, &salt, &output)
    }
}

/// Bytes of hash output, argon2's default.
const HASH_LENGTH: usize = 32;

fn salt_bytes(salt: &SaltString) -> anyhow::Result<Vec<u8>> {
    let mut salt_buffer = [0u8; 64];
    let bytes = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|error| anyhow::anyhow!("cannot decode the salt: {error}"))?;
    Ok(bytes.to_vec())
}

/// The standard PHC string of an Argon2id output.
fn phc_string(params: &Params, salt: &SaltString, output: &[u8]) -> anyhow::Result<StoredHash> {
    let hash = PasswordHash {
        algorithm: ::argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|error| anyhow::anyhow!("cannot encode argon2 parameters: {error}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(
            Output::new(output).map_err(|error| anyhow::anyhow!("invalid hash output: {error}"))?,
        ),
    };
    Ok(StoredHash(hash.to_string()))
}

#[cfg(test)]
mod tests {
    use ::argon2::Argon2;

    use super::*;
    use crate::domain::passwords::PasswordSettings;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordSettings::default())
    }

    #[tokio::test]
    async fn hashes_check_and_rehash_when_parameters_change() {
        let cheap = Argon2Settings {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        };
        let pepper = SecretKey::generate();
        let hasher = PasswordHasher::new(&cheap, pepper.clone(), Some(1), None).expect("hasher");
        let password = SecretString::from("Tangerine-Orbit-47");
        let stored = hasher
            .hash_new(&policy(), &password, Vec::new())
            .await
            .expect("hash")
            .expect("strong password");
        // A standard PHC string: argon2's own verifier accepts it, with the derived key.
        let parsed = PasswordHash::new(&stored.0).expect("phc string");
        let derived = super::super::pepper::password_key(&pepper);
        let standard = Argon2::new_with_secret(
            derived.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        )
        .expect("argon2");
        ::argon2::password_hash::PasswordVerifier::verify_password(
            &standard,
            b"Tangerine-Orbit-47",
            &parsed,
        )
        .expect("the standard verifier accepts the hash");
        assert_eq!(
            hasher
                .check(&policy(), &password, Some(&stored))
                .await
                .expect("check"),
            PasswordCheck::Right
        );
        let wrong = SecretString::from("Tangerine-Orbit-48");
        assert_eq!(
            hasher
                .check(&policy(), &wrong, Some(&stored))
                .await
                .expect("check"),
            PasswordCheck::Wrong
        );
        assert_eq!(
            hasher
                .check(&policy(), &password, None)
                .await
                .expect("check"),
            PasswordCheck::Wrong
        );

        let other_pepper =
            PasswordHasher::new(&cheap, SecretKey::generate(), Some(1), None).expect("hasher");
        assert_eq!(
            other_pepper
                .check(&policy(), &password, Some(&stored))
                .await
                .expect("check"),
            PasswordCheck::Wrong
        );

        let stronger = Argon2Settings {
            memory_kib: 9 * 1024,
            ..cheap
        };
        let upgraded = PasswordHasher::new(&stronger, pepper, Some(1), None).expect("hasher");
        let PasswordCheck::RightRehashed(new_hash) = upgraded
            .check(&policy(), &password, Some(&stored))
            .await
            .expect("check")
        else {
            panic!("expected a rehash");
        };
        assert!(new_hash.0.contains("m=9216"), "{}", new_hash.0);
        assert_eq!(
            upgraded
                .check(&policy(), &password, Some(&new_hash))
                .await
                .expect("check"),
            PasswordCheck::Right
        );
    }

    #[tokio::test]
    async fn hashes_made_with_the_pepper_itself_still_check_and_move_to_the_derived_key() {
        let pepper = SecretKey::generate();
        let params = Params::new(8 * 1024, 1, 1, None).expect("params");
        let before = Argon2::new_with_secret(
            pepper.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            params,
        )
        .expect("argon2");
        let salt = SaltString::generate(&mut ::argon2::password_hash::rand_core::OsRng);
        let old = ::argon2::password_hash::PasswordHasher::hash_password(
            &before,
            b"Tangerine-Orbit-47",
            &salt,
        )
        .expect("hash");
        let old = StoredHash(old.to_string());
        assert!(!old.0.contains("keyid"), "{}", old.0);
        let cheap = Argon2Settings {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(&cheap, pepper, Some(1), None).expect("hasher");
        let wrong = SecretString::from("Tangerine-Orbit-48");
        let refused = hasher.check(&policy(), &wrong, Some(&old)).await;
        assert_eq!(refused.expect("check"), PasswordCheck::Wrong);
        let password = SecretString::from("Tangerine-Orbit-47");
        let right = hasher.check(&policy(), &password, Some(&old)).await;
        let Ok(PasswordCheck::RightRehashed(new_hash)) = right else {
            panic!("expected a rehash with the derived key: {right:?}");
        };
        assert!(new_hash.0.contains("keyid="), "{}", new_hash.0);
        let again = hasher.check(&policy(), &password, Some(&new_hash)).await;
        assert_eq!(again.expect("check"), PasswordCheck::Right);
    }
}
