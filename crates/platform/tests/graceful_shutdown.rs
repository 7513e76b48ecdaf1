//! A call in flight when shutdown starts is answered before the server stops, and new calls are
//! not taken: the server drains, over real gRPC.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use mi_platform::config::TlsConfig;
use mi_platform::health::PortHealth;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

/// How long the slow call takes.
const SLOW: Duration = Duration::from_millis(1500);

/// `test.Slow/Call`: answers an empty message with an empty message after [`SLOW`].
#[derive(Debug, Clone)]
struct Slow;

impl NamedService for Slow {
    const NAME: &'static str = "test.Slow";
}

impl Service<http::Request<Body>> for Slow {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<(), ()>::default());
            Ok(grpc.unary(SlowCall, request).await)
        })
    }
}

struct SlowCall;

impl tonic::server::UnaryService<()> for SlowCall {
    type Response = ();
    type Future = BoxFuture<'static, Result<tonic::Response<()>, tonic::Status>>;

    fn call(&mut self, _: tonic::Request<()>) -> Self::Future {
        Box::pin(async {
            tokio::time::sleep(SLOW).await;
            Ok(tonic::Response::new(()))
        })
    }
}

async fn call_slow(channel: Channel) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    grpc.unary(
        tonic::Request::new(()),
        PathAndQuery::from_static("/test.Slow/Call"),
        ProstCodec::<(), ()>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_is_answered_during_the_shutdown() {
    let listener = mi_platform::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let health = PortHealth::new(&[Slow::NAME]).await;
    let shutdown = CancellationToken::new();
    let tls = TlsConfig::default();
    let server = mi_platform::server::serve(
        listener,
        Routes::new(Slow),
        &[Slow::NAME],
        health,
        &tls,
        shutdown.clone(),
    );
    let client = async {
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let started = Instant::now();
        let in_flight = tokio::spawn(call_slow(channel));
        tokio::time::sleep(SLOW / 3).await;
        shutdown.cancel();
        in_flight
            .await
            .unwrap()
            .expect("the call in flight is answered");
        started.elapsed()
    };
    let (served, took) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(server, client)
    })
    .await
    .expect("the server stops once its calls are answered");
    served.unwrap();
    assert!(took >= SLOW, "answered after {took:?}");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the port still takes connections after the shutdown"
    );
}
