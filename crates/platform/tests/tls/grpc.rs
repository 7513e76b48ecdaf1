//! gRPC server TLS: a client trusting the CA gets SERVING, a plaintext client fails, and with
//! a client CA only clients presenting a certificate it signed are served.

use std::path::Path;

use mi_platform::config::TlsConfig;
use mi_platform::health::PortHealth;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::certs::{Ca, Leaf};

/// A server with only health and reflection, on a free port, stopped when dropped.
struct Served {
    port: u16,
    shutdown: CancellationToken,
}

impl Served {
    async fn start(tls: TlsConfig) -> anyhow::Result<Self> {
        let listener = mi_platform::server::bind("127.0.0.1:0".parse()?).await?;
        let port = listener.local_addr()?.port();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let health = PortHealth::new(&[]).await;
            let served =
                mi_platform::server::serve(listener, Routes::default(), &[], health, &tls, stop);
            if let Err(error) = served.await {
                panic!("server failed: {error:#}");
            }
        });
        Ok(Self { port, shutdown })
    }

    /// Asks health over TLS (trusting `ca`, presenting `client` if given) or in plaintext.
    async fn health(&self, ca: Option<&Ca>, client: Option<&Leaf>) -> anyhow::Result<i32> {
        let channel = match ca {
            Some(ca) => {
                let mut tls = ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca.pem()))
                    .domain_name("localhost");
                if let Some(client) = client {
                    tls = tls.identity(Identity::from_pem(&client.cert_pem, &client.key_pem));
                }
                Channel::from_shared(format!("https://127.0.0.1:{}", self.port))?.tls_config(tls)?
            }
            None => Channel::from_shared(format!("http://127.0.0.1:{}", self.port))?,
        };
        let channel = channel.connect().await?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await?;
        Ok(response.into_inner().status)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn server_tls(ca: &Ca, dir: &Path, client_ca: Option<&Ca>) -> anyhow::Result<TlsConfig> {
    let server = ca.server(dir, "grpc-server")?;
    Ok(TlsConfig {
        cert: Some(server.cert_pem),
        key: Some(server.key_pem.into()),
        client_ca: client_ca.map(Ca::pem),
    })
}

const SERVING: i32 = ServingStatus::Serving as i32;

#[tokio::test]
async fn a_client_trusting_the_ca_is_served_and_plaintext_is_not() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new(dir.path(), "grpc")?;
    let served = Served::start(server_tls(&ca, dir.path(), None)?).await?;

    assert_eq!(served.health(Some(&ca), None).await?, SERVING);
    assert!(
        served.health(None, None).await.is_err(),
        "a plaintext client must not be served on a TLS port"
    );
    let other = Ca::new(dir.path(), "other")?;
    assert!(
        served.health(Some(&other), None).await.is_err(),
        "a client must not trust a server certificate from another CA"
    );
    Ok(())
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_its_certificates_are_served() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new(dir.path(), "grpc")?;
    let client_ca = Ca::new(dir.path(), "clients")?;
    let served = Served::start(server_tls(&ca, dir.path(), Some(&client_ca))?).await?;

    assert!(
        served.health(Some(&ca), None).await.is_err(),
        "a client without a certificate must be refused"
    );
    let stranger = ca.client(dir.path(), "stranger")?;
    assert!(
        served.health(Some(&ca), Some(&stranger)).await.is_err(),
        "a client certificate from another CA must be refused"
    );
    let member = client_ca.client(dir.path(), "member")?;
    assert_eq!(served.health(Some(&ca), Some(&member)).await?, SERVING);
    Ok(())
}
