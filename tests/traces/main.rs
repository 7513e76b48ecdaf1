//! The trace test, in a process of its own: it installs the global trace exporter, pointed at
//! an OTLP receiver in this test, before the harness installs its own.
//!
//! A client's SendCode, with SMS going to an HTTP provider (a receiver in this test), leaves
//! one trace in both modes: the gRPC server span by OpenTelemetry's RPC conventions
//! (`mi.verification.v1.VerificationService/SendCode`, kind SERVER, `rpc.*`), under it the
//! outbox relay's PRODUCER span for the event (`messaging.*`, partition and offset), its child
//! the notification consumer's CONSUMER span, and under that the CLIENT span of the provider
//! call (`http.*`, `server.*`, nothing of the message).

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

use support::providers::{ProviderBehavior, SmsProvider};
use support::{Backends, TestConfig, TestPlatform, unique_phone_number};

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

/// `span`'s ancestors in `trace`, nearest first.
fn ancestors<'a>(span: &'a Span, trace: &'a [Span]) -> Vec<&'a Span> {
    let mut chain = Vec::new();
    let mut current = span;
    while let Some(parent) = trace.iter().find(|candidate| {
        !current.parent_span_id.is_empty() && candidate.span_id == current.parent_span_id
    }) {
        chain.push(parent);
        current = parent;
    }
    chain
}

fn string(value: &str) -> Option<Value> {
    Some(Value::StringValue(value.to_owned()))
}

/// Checks the SendCode server span by the RPC conventions.
fn assert_server_span(span: &Span) {
    assert_eq!(span.kind, SpanKind::Server as i32, "{span:#?}");
    assert_eq!(attribute(span, "rpc.system"), string("grpc"));
    assert_eq!(
        attribute(span, "rpc.service"),
        string("mi.verification.v1.VerificationService")
    );
    assert_eq!(attribute(span, "rpc.method"), string("SendCode"));
    assert_eq!(
        attribute(span, "rpc.grpc.status_code"),
        Some(Value::IntValue(0))
    );
}

/// Checks the chain SendCode → producer → consumer → provider call in `trace`, the spans of
/// one SendCode's trace id, on a bus whose `messaging.system` is `system`.
fn assert_one_trace_to_the_provider(send_code: &Span, trace: &[Span], system: &str) {
    let provider_call = trace
        .iter()
        .find(|span| span.kind == SpanKind::Client as i32 && span.name == "POST")
        .unwrap_or_else(|| panic!("no provider call in SendCode's trace ({system}): {trace:#?}"));
    assert_eq!(
        attribute(provider_call, "http.request.method"),
        string("POST")
    );
    assert_eq!(
        attribute(provider_call, "server.address"),
        string("127.0.0.1")
    );
    assert_eq!(
        attribute(provider_call, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    let up = ancestors(provider_call, trace);
    let consumer = up
        .iter()
        .find(|span| span.kind == SpanKind::Consumer as i32)
        .unwrap_or_else(|| panic!("the provider call is under no consumer span: {up:#?}"));
    let group = attribute(consumer, "messaging.consumer.group.name");
    assert!(
        matches!(&group, Some(Value::StringValue(name)) if name.ends_with("notification")),
        "{consumer:#?}"
    );
    let producer = trace
        .iter()
        .find(|span| span.span_id == consumer.parent_span_id)
        .expect("the consumer span's parent is in the trace");
    assert_eq!(producer.kind, SpanKind::Producer as i32, "{producer:#?}");
    for span in [*consumer, producer] {
        assert_eq!(attribute(span, "messaging.system"), string(system));
        assert_eq!(
            attribute(span, "messaging.destination.name"),
            attribute(consumer, "messaging.destination.name")
        );
        assert_eq!(
            attribute(span, "messaging.kafka.message.key"),
            attribute(consumer, "messaging.kafka.message.key")
        );
        assert_eq!(
            attribute(span, "messaging.kafka.offset"),
            attribute(consumer, "messaging.kafka.offset")
        );
        assert_eq!(
            attribute(span, "messaging.destination.partition.id"),
            attribute(consumer, "messaging.destination.partition.id")
        );
    }
    assert_eq!(
        attribute(producer, "messaging.operation.type"),
        string("send")
    );
    assert_eq!(
        attribute(consumer, "messaging.operation.type"),
        string("process")
    );
    assert!(
        matches!(
            attribute(producer, "messaging.kafka.offset"),
            Some(Value::IntValue(_))
        ),
        "{producer:#?}"
    );
    assert!(
        ancestors(producer, trace)
            .iter()
            .any(|span| span.span_id == send_code.span_id),
        "the producer span is not under SendCode: {producer:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_code_leaves_one_trace_through_the_bus_to_the_provider() {
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
    let modes = [
        (Backends::Embedded, "mi-embedded"),
        (Backends::Servers, "kafka"),
    ];
    for (backends, _) in modes {
        let provider = SmsProvider::start(ProviderBehavior::Accept).await;
        let config = TestConfig::new(backends)
            .with_value("notification.sms_transport", "http")
            .with_value("notification.http_provider.url", provider.url.clone());
        let platform = TestPlatform::start_with(config).await;
        let phone = unique_phone_number();
        platform.sign_up(&phone, Channel::Sms).await;
        provider.wait_for(&phone, 1).await;
        platform.stop().await;
    }
    // Flushes the batch of spans to the receiver.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();

    let mut received = Vec::new();
    while let Ok(span) = spans.try_recv() {
        received.push(span);
    }
    let send_code: Vec<&Span> = received
        .iter()
        .filter(|span| span.name == "mi.verification.v1.VerificationService/SendCode")
        .collect();
    assert_eq!(
        send_code.len(),
        2,
        "one SendCode span per mode: {send_code:#?}"
    );
    for (span, (_, system)) in send_code.into_iter().zip(modes) {
        assert_server_span(span);
        let trace: Vec<Span> = received
            .iter()
            .filter(|other| other.trace_id == span.trace_id)
            .cloned()
            .collect();
        assert_one_trace_to_the_provider(span, &trace, system);
    }
}
