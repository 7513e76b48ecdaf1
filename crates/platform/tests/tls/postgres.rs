//! PostgreSQL TLS: a second server on a free port with `ssl=on` and a certificate signed by a
//! CA made here; `verify-full` with that CA connects, with another CA fails, `require` works.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use mi_platform::config::InfraConfig;
use mi_platform::db::Database;

use crate::certs::Ca;

/// A PostgreSQL server in a temporary directory, stopped when dropped.
struct TlsPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl TlsPostgres {
    fn start(ca: &Ca, dir: tempfile::TempDir) -> anyhow::Result<Self> {
        let bin = server_binaries()?;
        let server = ca.server(dir.path(), "postgres-server")?;
        std::fs::set_permissions(&server.key_file, std::fs::Permissions::from_mode(0o600))?;
        let port = free_port()?;
        let this = Self { bin, dir, port };
        // initdb refuses to run as root: the files then belong to the postgres user.
        if running_as_root() {
            for entry in walk(this.dir.path())? {
                chown_to_postgres(&entry)?;
            }
        }
        let data = this.dir.path().join("data");
        this.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on \
             -c ssl_cert_file={cert} -c ssl_key_file={key}",
            dir = this.dir.path().display(),
            cert = server.cert_file.display(),
            key = server.key_file.display(),
        );
        let log = this.dir.path().join("postgres.log");
        let started = this.pg_ctl(&[
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
            "-w".as_ref(),
            "start".as_ref(),
        ]);
        if let Err(error) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(error.context(format!("PostgreSQL did not start; its log:\n{log}")));
        }
        Ok(this)
    }

    /// Runs pg_ctl on this server's data directory.
    fn pg_ctl(&self, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let data = self.dir.path().join("data");
        let mut all = vec!["-D".as_ref(), data.as_os_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Runs one of the server binaries, as the postgres user when running as root.
    fn run(&self, name: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let program = self.bin.join(name);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .output()
            .with_context(|| format!("cannot run {}", program.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    fn infra(&self, url: &str, ssl_mode: Option<&str>, ca: Option<&Ca>) -> InfraConfig {
        let mut infra = InfraConfig::default();
        infra.postgres.url = Some(url.replace("{port}", &self.port.to_string()));
        infra.postgres.ssl_mode = ssl_mode.map(str::to_owned);
        infra.postgres.ssl_root_cert = ca.map(|ca| ca.cert_file.clone());
        infra
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m".as_ref(), "immediate".as_ref(), "stop".as_ref()]);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb and pg_ctl.
fn server_binaries() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name()?.to_str()?.parse::<u32>().ok())
    });
    found.pop().context(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: \
         install the postgresql package to run this test",
    )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn chown_to_postgres(path: &Path) -> anyhow::Result<()> {
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()?;
    anyhow::ensure!(status.success(), "cannot chown {}", path.display());
    Ok(())
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = vec![dir.to_owned()];
    for entry in std::fs::read_dir(dir)? {
        paths.push(entry?.path());
    }
    Ok(paths)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether the pool's connection is encrypted, as the server sees it.
async fn encrypted(database: &Database) -> anyhow::Result<bool> {
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(database.pool())
        .await?;
    Ok(ssl)
}

#[tokio::test]
async fn tls_modes_against_a_server_with_a_self_signed_ca() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new(dir.path(), "right")?;
    let wrong_ca = Ca::new(dir.path(), "wrong")?;
    let server = TlsPostgres::start(&ca, dir)?;
    let url = "postgres://postgres@localhost:{port}";

    let verified = server.infra(url, Some("verify-full"), Some(&ca));
    let database = Database::connect(&verified, "verify_full").await?;
    assert!(encrypted(&database).await?, "verify-full must encrypt");

    let wrong = server.infra(url, Some("verify-full"), Some(&wrong_ca));
    let refused = Database::connect(&wrong, "wrong_ca").await;
    assert!(
        refused.is_err(),
        "a server certificate from another CA must be refused"
    );

    let required = server.infra(
        "postgres://postgres@127.0.0.1:{port}/?sslmode=require",
        None,
        None,
    );
    let database = Database::connect(&required, "require").await?;
    assert!(encrypted(&database).await?, "sslmode=require must encrypt");

    let plain = server.infra(url, Some("disable"), None);
    let database = Database::connect(&plain, "plain").await?;
    assert!(
        !encrypted(&database).await?,
        "sslmode=disable must not encrypt"
    );
    Ok(())
}
