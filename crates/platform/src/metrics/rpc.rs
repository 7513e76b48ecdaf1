//! Observes every RPC a server answers: RED metrics by method and gRPC status code, and the
//! status code on the request's span (OpenTelemetry's `rpc.grpc.status_code`).
//!
//! The status of a gRPC call is known only at its end: in the headers of a trailers-only
//! response (most errors), else in the trailers after the last message. So the response body
//! is wrapped, and the call is recorded once when the body is done or dropped (a client that
//! gave up: CANCELLED).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;
use tonic::Code;
use tonic::codegen::Service;
use tower_layer::Layer;

/// Wraps a gRPC server in [`RpcObserver`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RpcObserverLayer;

impl<S> Layer<S> for RpcObserverLayer {
    type Service = RpcObserver<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcObserver { inner }
    }
}

/// Records each call's outcome and duration; see the module.
#[derive(Debug, Clone)]
pub(crate) struct RpcObserver<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RpcObserver<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = Response<ObservedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let mut call = Call {
            path: request.uri().path().to_owned(),
            started: Instant::now(),
            // The request's span, made by the trace layer around this one.
            span: tracing::Span::current(),
            code: None,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            call.code = status_code(response.headers());
            Ok(response.map(|inner| ObservedBody {
                inner,
                call: Some(call),
            }))
        })
    }
}

/// A response body that records its call when it ends.
#[derive(Debug)]
pub(crate) struct ObservedBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> Body for ObservedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(context);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(call) = &mut self.call
                {
                    call.code = call.code.or_else(|| status_code(trailers));
                }
            }
            // The body is done (or broken): the status, if any, has been seen.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                if let Some(call) = self.call.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for ObservedBody<B> {
    fn drop(&mut self) {
        // Dropped before its end: the client went away or the server stopped.
        if let Some(call) = self.call.take() {
            call.finish(Code::Cancelled);
        }
    }
}

#[derive(Debug)]
struct Call {
    path: String,
    started: Instant,
    span: tracing::Span,
    code: Option<Code>,
}

impl Call {
    /// Records the call with its status, or `otherwise` when none was sent.
    fn finish(self, otherwise: Code) {
        let code = self.code.unwrap_or(otherwise);
        // Unknown services and methods are labelled alike, so that a scanner's made-up paths
        // cannot grow the label sets without bound.
        let (service, method) = match code {
            Code::Unimplemented => ("unknown", "unknown"),
            _ => split_path(&self.path),
        };
        let code_name = code_name(code);
        metrics::counter!(
            "grpc_server_handled_total",
            "grpc_service" => service.to_owned(),
            "grpc_method" => method.to_owned(),
            "grpc_code" => code_name,
        )
        .increment(1);
        metrics::histogram!(
            "grpc_server_handling_seconds",
            "grpc_service" => service.to_owned(),
            "grpc_method" => method.to_owned(),
        )
        .record(self.started.elapsed().as_secs_f64());
        self.span
            .record("rpc.grpc.status_code", i64::from(i32::from(code)));
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

/// `/package.Service/Method` as (`package.Service`, `Method`).
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("unknown", "unknown"))
}

fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    value.parse::<i32>().ok().map(Code::from)
}

/// The codes that make a server span an error by OpenTelemetry's gRPC conventions; the others
/// are answers about the request (INVALID_ARGUMENT, NOT_FOUND, ...).
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The code's name as in the gRPC specification (`INVALID_ARGUMENT`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn a_path_splits_into_service_and_method() {
        assert_eq!(
            split_path("/mi.verification.v1.VerificationService/SendCode"),
            ("mi.verification.v1.VerificationService", "SendCode")
        );
        assert_eq!(split_path("/nonsense"), ("unknown", "unknown"));
    }
}
