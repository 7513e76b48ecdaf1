//! A TCP proxy the test can cut: stopping it closes every connection through it and refuses
//! new ones, as a PostgreSQL that went down does; starting it again on the same port brings
//! the server back.

use std::net::{SocketAddr, ToSocketAddrs};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards `127.0.0.1:port` to a target while running.
pub(crate) struct CuttableProxy {
    port: u16,
    target: SocketAddr,
    // Accepts and carries every connection: aborting it drops them all.
    running: Option<JoinHandle<()>>,
}

impl CuttableProxy {
    /// A running proxy on a free port to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let mut proxy = Self {
            port: crate::tansu::free_port(),
            target,
            running: None,
        };
        proxy.resume().await;
        proxy
    }

    /// The port clients connect to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Closes every connection and refuses new ones.
    pub(crate) fn cut(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
    }

    /// Accepts and forwards connections again.
    pub(crate) async fn resume(&mut self) {
        assert!(self.running.is_none(), "the proxy runs already");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the proxy's port");
        let target = self.target;
        self.running = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }
}

/// A server URL split around its `host:port`: `(before, host:port, after)`, so that the same
/// URL can name the proxy instead (`postgres://user@host:5432/db` → `postgres://user@`,
/// `host:5432`, `/db`).
pub(crate) fn split_url(url: &str) -> (String, String, String) {
    let start = url
        .rfind('@')
        .map_or_else(|| url.find("://").map_or(0, |at| at + 3), |at| at + 1);
    let end = url[start..].find('/').map_or(url.len(), |at| start + at);
    (
        url[..start].to_owned(),
        url[start..end].to_owned(),
        url[end..].to_owned(),
    )
}

/// A proxy in front of the server of `url`, and the same URL through it.
pub(crate) async fn in_front_of(url: &str) -> (CuttableProxy, String) {
    let (before, server, after) = split_url(url);
    let address = server
        .to_socket_addrs()
        .expect("server address")
        .next()
        .expect("an address");
    let proxy = CuttableProxy::start(address).await;
    let through_proxy = format!("{before}127.0.0.1:{}{after}", proxy.port());
    (proxy, through_proxy)
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
