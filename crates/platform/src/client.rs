//! Where a request comes from: the client address (behind a trusted proxy, from the header it
//! appends) and the key per-client limits count that client under.

use std::net::{IpAddr, Ipv6Addr};

pub use ipnet::IpNet;
use tonic::metadata::MetadataMap;

/// Which proxies are trusted to name the client, and in which header.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    header: Option<String>,
    proxies: Vec<IpNet>,
}

impl ProxyTrust {
    /// Trusts `header` on connections from `proxies`; without both, the peer address counts.
    pub fn new(header: Option<String>, proxies: Vec<IpNet>) -> Self {
        Self { header, proxies }
    }

    /// The client's IP address: the right-most entry of the header's last line when the peer
    /// is a trusted proxy (that entry is the one the proxy appended; everything before it, and
    /// earlier lines, the client may have written), else the connection's peer address.
    pub fn client_address<T>(&self, request: &tonic::Request<T>) -> String {
        let peer = request.remote_addr().map(|peer| peer.ip().to_canonical());
        let from_proxy = peer
            .filter(|peer| self.proxies.iter().any(|proxy| proxy.contains(peer)))
            .and_then(|_| self.forwarded(request.metadata()));
        from_proxy
            .or(peer)
            .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
    }

    /// The address the proxy appended; `None` when absent or not an IP address, so that a
    /// forged or garbled value is never stored nor counted.
    fn forwarded(&self, metadata: &MetadataMap) -> Option<IpAddr> {
        let line = metadata
            .get_all(self.header.as_deref()?)
            .iter()
            .next_back()?;
        let entry = line.to_str().ok()?.rsplit(',').next()?.trim();
        entry
            .parse::<IpAddr>()
            .ok()
            .map(|address| address.to_canonical())
    }
}

/// The key per-client limits count `client_address` under: an IPv6 client by its /64 (one
/// subscriber or host gets a whole /64, so its 2^64 addresses are one client), anything else
/// as it is.
pub fn limit_key(client_address: &str) -> String {
    match client_address
        .parse::<IpAddr>()
        .map(|address| address.to_canonical())
    {
        Ok(IpAddr::V6(address)) => {
            let network = Ipv6Addr::from(u128::from(address) & !(u128::from(u64::MAX)));
            format!("{network}/64")
        }
        Ok(address) => address.to_string(),
        Err(_) => client_address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tonic::transport::server::TcpConnectInfo;

    use super::*;

    fn request(peer: &str, lines: &[&str]) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(peer.parse::<SocketAddr>().unwrap()),
        });
        for line in lines {
            let value = line.parse().unwrap();
            request.metadata_mut().append("x-forwarded-for", value);
        }
        request
    }

    fn trust(proxies: &[&str]) -> ProxyTrust {
        let proxies = proxies.iter().map(|net| net.parse().unwrap()).collect();
        ProxyTrust::new(Some("x-forwarded-for".into()), proxies)
    }

    #[test]
    fn the_right_most_entry_of_the_last_line_counts() {
        let request = request(
            "10.0.0.2:4000",
            &["203.0.113.1", "198.51.100.9, 203.0.113.7"],
        );
        assert_eq!(
            trust(&["10.0.0.0/8"]).client_address(&request),
            "203.0.113.7"
        );
    }

    #[test]
    fn non_ip_values_and_untrusted_peers_fall_back_to_the_peer() {
        let garbled = request("10.0.0.2:4000", &["203.0.113.1, <script>"]);
        assert_eq!(trust(&["10.0.0.0/8"]).client_address(&garbled), "10.0.0.2");
        let untrusted = request("192.0.2.5:4000", &["203.0.113.1"]);
        assert_eq!(
            trust(&["10.0.0.0/8"]).client_address(&untrusted),
            "192.0.2.5"
        );
        assert_eq!(trust(&[]).client_address(&untrusted), "192.0.2.5");
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        assert_eq!(limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(limit_key("2001:db8:1:2::ffff"), "2001:db8:1:2::/64");
        assert_eq!(limit_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(limit_key("192.0.2.1"), "192.0.2.1");
    }
}
