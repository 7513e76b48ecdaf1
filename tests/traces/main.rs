//! The trace test, in a process of its own: it installs the global trace exporter, pointed at
//! an OTLP receiver in this test, before the harness installs its own.
//!
//! A client's SendCode leaves a gRPC server span by OpenTelemetry's RPC conventions, exported
//! over OTLP: named `mi.verification.v1.VerificationService/SendCode`, kind SERVER, with
//! `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code`.

// Always true in a test binary: it tells clippy that all of this is test code, where
// clippy.toml lets tests unwrap.
#![cfg(test)]

#[path = "../e2e/support/mod.rs"]
#[allow(unused)] // this binary uses a few of the harness's helpers
mod support;

use mi_platform::config::TelemetryConfig;
use mi_proto::common::v1::Channel;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;

use support::{Backends, TestPlatform, unique_phone_number};

/// An OTLP/gRPC trace receiver: hands every exported span to the test.
struct Receiver(mpsc::UnboundedSender<Span>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        for span in spans {
            let _ = self.0.send(span);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.clone())
        .and_then(|value| value.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_code_leaves_a_grpc_server_span_by_the_conventions() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_address = listener.local_addr().unwrap();
    let (spans_tx, mut spans) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(spans_tx)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let config = TelemetryConfig {
        log_filter: "warn".into(),
        otlp_endpoint: Some(format!("http://{receiver_address}")),
        ..Default::default()
    };
    let telemetry = mi_platform::telemetry::init(&config, "mi-traces-test").unwrap();

    // Both modes in one test: the exporter is the process's, flushed once at the end.
    for backends in [Backends::Embedded, Backends::Servers] {
        let platform = TestPlatform::start(backends).await;
        platform.sign_up(&unique_phone_number(), Channel::Sms).await;
        platform.stop().await;
    }
    // Flushes the batch of spans to the receiver.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();

    let mut send_code = Vec::new();
    while let Ok(span) = spans.try_recv() {
        if span.name == "mi.verification.v1.VerificationService/SendCode" {
            send_code.push(span);
        }
    }
    assert_eq!(
        send_code.len(),
        2,
        "one SendCode span per mode: {send_code:#?}"
    );
    for span in &send_code {
        assert_eq!(span.kind, SpanKind::Server as i32, "{span:#?}");
        assert_eq!(
            attribute(span, "rpc.system"),
            Some(Value::StringValue("grpc".into()))
        );
        assert_eq!(
            attribute(span, "rpc.service"),
            Some(Value::StringValue(
                "mi.verification.v1.VerificationService".into()
            ))
        );
        assert_eq!(
            attribute(span, "rpc.method"),
            Some(Value::StringValue("SendCode".into()))
        );
        assert_eq!(
            attribute(span, "rpc.grpc.status_code"),
            Some(Value::IntValue(0))
        );
    }
}
