//! The password family's parameters: the policy a new password must meet and the Argon2id
//! cost. `config.rs` reads them as `identity.password`.

use secrecy::SecretString;
use serde::Deserialize;

/// Password policy and hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    /// Shortest password accepted.
    pub min_length: usize,
    /// Longest password accepted (bounds hashing work).
    pub max_length: usize,
    /// Require both lower-case and upper-case letters. Off by default: NIST SP 800-63B-4
    /// (3.1.1.2) says not to impose composition rules; the length, strength and breach checks
    /// do their work.
    pub require_mixed_case: bool,
    /// Require a digit or a symbol (off by default, as `require_mixed_case`).
    pub require_digit_or_symbol: bool,
    /// Lowest zxcvbn score accepted (0 to 4).
    pub min_strength_score: u8,
    /// Server-side secret mixed into every hash (base64, 32 bytes); generated in embedded mode.
    pub pepper: Option<SecretString>,
    /// Argon2id cost; a hash made with other parameters is redone at the next sign-in.
    pub argon2: Argon2Settings,
    /// Hashes computed at once; default one per CPU core.
    pub hash_threads: Option<usize>,
    /// Hash in worker processes of this executable, in a scheduling group of their own, so
    /// saturated hashing does not delay cheap RPCs; false (or an executable that serves no
    /// workers) hashes on threads of the service.
    pub hash_processes: bool,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            require_mixed_case: false,
            require_digit_or_symbol: false,
            min_strength_score: 3,
            pepper: None,
            argon2: Argon2Settings::default(),
            hash_threads: None,
            hash_processes: true,
        }
    }
}

/// OWASP's Argon2id minimums (Password Storage Cheat Sheet) as pairs of memory (KiB) and
/// passes, each as strong as the others against attackers; a cost meets one pair or is refused.
pub const OWASP_ARGON2_MINIMUMS: [(u32, u32); 5] = [
    (46 * 1024, 1),
    (19 * 1024, 2),
    (12 * 1024, 3),
    (9 * 1024, 4),
    (7 * 1024, 5),
];

/// Argon2id parameters; defaults are OWASP's (19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Argon2Settings {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Settings {
    /// Whether the cost meets one of OWASP's minimum pairs, with at least one lane.
    pub fn meets_owasp_minimum(&self) -> bool {
        self.parallelism >= 1
            && OWASP_ARGON2_MINIMUMS
                .iter()
                .any(|&(memory_kib, iterations)| {
                    self.memory_kib >= memory_kib && self.iterations >= iterations
                })
    }
}
