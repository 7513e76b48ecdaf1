//! A Redis Cluster node going down and coming back, on a throwaway three-node cluster of this
//! test's own (the shared one on 7101-7103 stays up for the other tests): a call whose keys
//! are on the dead node fails as an outage (UNAVAILABLE for the client, like a down server),
//! calls on the other nodes go on, and the node's keys work again once it is back, through
//! the same connection.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mi_platform::limiter::{Limit, RateLimiter, RedisRateLimiter};
use mi_platform::outage::{Dependency, unreachable_dependency};
use mi_platform::redis_connection;

const HOUR: Duration = Duration::from_secs(3600);
const TIMEOUT: Duration = Duration::from_millis(500);

/// A redis-server in cluster mode, killed when dropped.
struct Node {
    process: Child,
}

impl Node {
    fn start(port: u16, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("node dir");
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(dir)
            // A dead primary's slots stay unserved, but the others keep serving theirs.
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: apt-get install redis-server");
        wait_until(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Self { process }
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the cluster"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is not installed: apt-get install redis-server");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn cluster_ok(port: u16) -> bool {
    redis_cli(port, &["cluster", "info"]).contains("cluster_state:ok")
}

/// The port of the node that serves `key` (asked of the cluster, by its slot).
fn node_of(key: &str, ports: &[u16]) -> u16 {
    let slot: u16 = redis_cli(ports[0], &["cluster", "keyslot", key])
        .trim()
        .parse()
        .expect("slot");
    // `redis-cli --cluster create` splits the slots evenly, in the order the nodes are given.
    ports[usize::from(slot) * ports.len() / 16_384]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_an_outage_for_its_keys_only_and_recovers_by_itself() {
    let dirs = tempfile::tempdir().expect("tempdir");
    let ports: Vec<u16> = (0..3).map(|_| free_cluster_port()).collect();
    let mut nodes: Vec<Node> = ports
        .iter()
        .map(|&port| Node::start(port, &dirs.path().join(port.to_string())))
        .collect();
    let addresses: Vec<String> = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let created = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(created.status.success(), "{created:?}");
    wait_until(|| ports.iter().all(|&port| cluster_ok(port)));

    let urls: Vec<String> = ports
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let connection = redis_connection::connect_cluster(&urls, None, TIMEOUT)
        .await
        .expect("cluster");
    let limiter = RedisRateLimiter::new(connection, "outage:");
    let key_on = |port: u16| {
        (0..)
            .map(|client| format!("check:client-hour:198.51.100.{client}"))
            .find(|key| node_of(&format!("outage:rate:{key}"), &ports) == port)
            .expect("a key")
    };
    let (dying, living) = (ports[2], ports[0]);
    let on_dying = [Limit::new(key_on(dying), 5, HOUR)];
    let on_living = [Limit::new(key_on(living), 5, HOUR)];
    assert!(limiter.acquire(&on_dying).await.expect("before").allowed);
    assert!(limiter.acquire(&on_living).await.expect("before").allowed);

    nodes[2].stop();
    let started = Instant::now();
    let error = limiter
        .acquire(&on_dying)
        .await
        .expect_err("its node is down");
    let took = started.elapsed();
    assert_eq!(
        unreachable_dependency(&error),
        Some(Dependency::Redis),
        "an outage, so UNAVAILABLE: {error:#}"
    );
    eprintln!("a call on the dead node failed after {took:?} ({error:#})");
    let living_decision = limiter.acquire(&on_living).await.expect("its node is up");
    assert!(living_decision.allowed);
    assert_eq!(
        living_decision.remaining, 3,
        "counted on its node as before"
    );

    nodes[2] = Node::start(dying, &dirs.path().join(dying.to_string()));
    wait_until(|| cluster_ok(dying));
    let back = Instant::now();
    let decision = loop {
        match limiter.acquire(&on_dying).await {
            Ok(decision) => break decision,
            Err(error) => {
                assert!(
                    back.elapsed() < Duration::from_secs(20),
                    "the node's keys did not come back: {error:#}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    eprintln!(
        "the node's keys answered {:?} after it was back",
        back.elapsed()
    );
    // The node ran without persistence, so its counts started over; what matters is that it
    // answers again through the same connection, with nothing restarted on our side.
    assert!(decision.allowed);
}
