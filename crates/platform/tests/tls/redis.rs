//! Redis TLS and ACL users: a second redis-server on a free TLS-only port, its certificate
//! signed by a CA made here, its default user off and one ACL user `mi`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use mi_platform::redis_connection;

use crate::certs::Ca;
use crate::postgres::free_port;

/// A redis-server child process, killed when dropped.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    async fn start(ca: &Ca, dir: &std::path::Path) -> anyhow::Result<Self> {
        let server = ca.server(dir, "redis-server")?;
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&server.cert_file)
            .arg("--tls-key-file")
            .arg(&server.key_file)
            .arg("--tls-ca-cert-file")
            .arg(&ca.cert_file)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--user", "default", "off"])
            .args(["--user", "mi", "on", ">s3cret", "~*", "&*", "+@all"])
            .stdout(Stdio::null())
            .spawn()
            .context(
                "redis-server not found: install redis-server (built with TLS) to run this test",
            )?;
        let this = Self { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(this);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("redis-server did not listen on {port} (built without TLS?)")
    }

    /// Connects with `url` (`{port}` replaced) and asks who the connection is logged in as,
    /// giving up after a few seconds.
    async fn who(&self, url: &str, ca: &Ca) -> anyhow::Result<String> {
        let url = url.replace("{port}", &self.port.to_string());
        let asking = async {
            let mut connection =
                redis_connection::connect_with_ca(&url, Some(&ca.pem()), Duration::from_secs(2))
                    .await?;
            let who: String = redis::cmd("ACL")
                .arg("WHOAMI")
                .query_async(&mut connection)
                .await?;
            anyhow::Ok(who)
        };
        tokio::time::timeout(Duration::from_secs(5), asking).await?
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn tls_and_an_acl_user() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new(dir.path(), "redis")?;
    let server = TlsRedis::start(&ca, dir.path()).await?;

    let who = server
        .who("rediss://mi:s3cret@localhost:{port}", &ca)
        .await?;
    assert_eq!(who, "mi");

    let refused = [
        (
            "rediss://mi:wrong@localhost:{port}",
            &ca,
            "a wrong password",
        ),
        (
            "rediss://localhost:{port}",
            &ca,
            "the disabled default user",
        ),
        ("redis://mi:s3cret@localhost:{port}", &ca, "plaintext"),
    ];
    for (url, ca, what) in refused {
        assert!(server.who(url, ca).await.is_err(), "{what} must be refused");
    }
    let other = Ca::new(dir.path(), "other")?;
    assert!(
        server
            .who("rediss://mi:s3cret@localhost:{port}", &other)
            .await
            .is_err(),
        "a server certificate from another CA must be refused"
    );
    Ok(())
}
