//! Configuration: defaults, then an optional TOML file, then `MI_` environment variables, then
//! `*_FILE` secrets.
//!
//! Sections nest with `__` in variable names: `MI_KAFKA__BROKERS` sets `kafka.brokers`, and
//! `MI_VERIFICATION__CODE_HASH_KEY_FILE=/run/secrets/hash` sets `verification.code_hash_key` to
//! the file's contents. `MI_CONFIG` names the TOML file (default `mi-account.toml`, if present).
//! Each service extracts its own section; the shared infrastructure is the top level.
//!
//! A key that no setting reads is reported with the valid key closest to it: refused with
//! PostgreSQL configured (server mode, where a typo would silently leave a production setting
//! at its default), a warning in embedded mode.

mod infra;
mod kafka;
mod unknown_keys;

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::de::DeserializeOwned;

pub use self::infra::{
    ConsumerConfig, DevConfig, InfraConfig, LifecycleConfig, MetricsConfig, OutboxConfig,
    PostgresConfig, RedisConfig, RetentionConfig, TelemetryConfig, TlsConfig,
};
pub use self::kafka::{KafkaConfig, KafkaSecurityProtocol, SaslMechanism};
use self::unknown_keys::{UnknownKey, unknown_keys};

const ENV_PREFIX: &str = "MI_";
const CONFIG_FILE_VARIABLE: &str = "MI_CONFIG";
const DEFAULT_CONFIG_FILE: &str = "mi-account.toml";
/// `MI_` variables that are not settings: the config file's name, the job of a hashing worker
/// process (`mi_workers::worker`), and what `scripts/test` and the tests read
/// (`MI_TEST_…`, `MI_TANSU_ROOT`).
const NOT_SETTINGS: [&str; 3] = ["config", "cpu_worker", "tansu_root"];
const TEST_VARIABLES: &str = "test_";

/// The layered configuration sources, from which each part extracts its section.
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    figment: Figment,
}

impl ConfigLoader {
    /// Reads the file named by `MI_CONFIG`, the `MI_` variables and the `*_FILE` secrets.
    pub fn from_env() -> anyhow::Result<Self> {
        let file =
            std::env::var(CONFIG_FILE_VARIABLE).unwrap_or_else(|_| DEFAULT_CONFIG_FILE.into());
        let figment = Figment::new().merge(Toml::file(&file)).merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(&NOT_SETTINGS)
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    !key.ends_with("_file") && !key.starts_with(TEST_VARIABLES)
                }),
        );
        Ok(Self {
            figment: merge_secret_files(figment, std::env::vars())?,
        })
    }

    /// Uses an already built figment; tests set their values this way.
    pub fn from_figment(figment: Figment) -> Self {
        Self { figment }
    }

    /// Sets one value by its dotted key, over everything loaded so far. A key that no setting
    /// reads is reported with the caller's file and line.
    #[track_caller]
    pub fn with_value(self, key: &str, value: impl serde::Serialize) -> Self {
        Self {
            figment: self.figment.merge(Serialized::default(key, value)),
        }
    }

    /// The shared infrastructure settings, validated.
    pub fn infra(&self) -> anyhow::Result<InfraConfig> {
        let infra: InfraConfig = self.figment.extract().context("invalid configuration")?;
        infra.validate()?;
        Ok(infra)
    }

    /// One service's section, e.g. `verification`, with defaults for what is not set. Keys in
    /// it that the section does not read are refused in server mode, warned about otherwise.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> anyhow::Result<T> {
        let Ok(value) = self.figment.find_value(name) else {
            return Ok(T::default());
        };
        let section = self
            .figment
            .extract_inner(name)
            .with_context(|| format!("invalid configuration in section {name}"))?;
        self.refuse_or_warn(unknown_keys::<T>(&value, name, &[]))?;
        Ok(section)
    }

    /// Checks the keys of the shared settings, and that every other top-level key is the
    /// section of one of `services`, the services this process runs. Refuses unknown keys in
    /// server mode, warns about them otherwise.
    pub fn check_top_level(&self, services: &[&str]) -> anyhow::Result<()> {
        let root: Value = self.figment.extract().context("invalid configuration")?;
        self.refuse_or_warn(unknown_keys::<InfraConfig>(&root, "", services))
    }

    fn refuse_or_warn(&self, unknown: Vec<UnknownKey>) -> anyhow::Result<()> {
        if unknown.is_empty() {
            return Ok(());
        }
        let described: Vec<String> = unknown.iter().map(|key| self.describe(key)).collect();
        if self.is_server_mode() {
            anyhow::bail!(
                "invalid configuration: {} (unknown keys are refused when postgres.url is set)",
                described.join("; ")
            );
        }
        for description in &described {
            tracing::warn!("{description}");
        }
        Ok(())
    }

    /// Server mode: PostgreSQL configured.
    fn is_server_mode(&self) -> bool {
        self.figment
            .extract_inner::<Option<String>>("postgres.url")
            .ok()
            .flatten()
            .is_some()
    }

    /// `unknown configuration key kafka.brokrs (MI_KAFKA__BROKRS): did you mean kafka.brokers
    /// (MI_KAFKA__BROKERS)?`, naming the variable, the file or the line of code that set it.
    fn describe(&self, unknown: &UnknownKey) -> String {
        let metadata = self.figment.get_metadata(unknown.tag);
        let from_env = metadata.is_some_and(|metadata| metadata.name.contains("environment"));
        let name = |key: &str| match from_env {
            true => format!("{key} ({})", env_variable(key)),
            false => key.to_owned(),
        };
        let source = match metadata {
            Some(metadata) if !from_env => match &metadata.source {
                Some(Source::Code(line)) => format!(" set at {line}"),
                Some(source) => format!(" set by {} {source}", metadata.name),
                None => format!(" set by {}", metadata.name),
            },
            _ => String::new(),
        };
        let suggestion = match &unknown.closest {
            Some(closest) => format!(": did you mean {}?", name(closest)),
            None => String::new(),
        };
        format!(
            "unknown configuration key {}{source}{suggestion}",
            name(&unknown.key)
        )
    }
}

/// The environment variable that sets a dotted key.
fn env_variable(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.to_ascii_uppercase().replace('.', "__")
    )
}

/// Turns each `MI_A__B_FILE=/path` into the value of `a.b`, read from the file.
fn merge_secret_files(
    mut figment: Figment,
    variables: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Figment> {
    for (name, path) in variables {
        let Some(key) = name
            .strip_prefix(ENV_PREFIX)
            .and_then(|rest| rest.strip_suffix("_FILE"))
        else {
            continue;
        };
        let contents = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {name} from {path}"))?;
        let key = key.to_lowercase().replace("__", ".");
        figment = figment.merge(SecretFile {
            key,
            value: contents.trim_end().to_owned(),
            variable: name,
            path,
        });
    }
    Ok(figment)
}

/// One setting read from a file by an `MI_…_FILE` variable, named after the variable.
struct SecretFile {
    key: String,
    value: String,
    variable: String,
    path: String,
}

impl Provider for SecretFile {
    fn metadata(&self) -> Metadata {
        Metadata::from(
            self.variable.clone(),
            Source::File(self.path.clone().into()),
        )
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default(&self.key, &self.value).data()
    }
}

#[cfg(test)]
mod tests;
