//! The tower layer over every port that gives each error with an `ErrorInfo` its
//! `google.rpc.LocalizedMessage`.
//!
//! A unary RPC's error travels in the response headers (gRPC "trailers-only"), its details in
//! `grpc-status-details-bin`: the layer decodes them, renders the reason and metadata in the
//! request's language and appends the message. Errors without an `ErrorInfo` (tonic's own,
//! such as UNIMPLEMENTED) and errors that already carry a `LocalizedMessage` pass unchanged.

use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Request, Response};
use prost::Message;
use tonic::codegen::Service;
use tonic_types::{ErrorInfo, LocalizedMessage, pb};
use tower_layer::Layer;

use super::catalog::ErrorMessages;
use super::choice::LocaleHints;

/// Where gRPC puts an error's encoded `google.rpc.Status`.
const STATUS_DETAILS: &str = "grpc-status-details-bin";

/// Base64 as gRPC sends binary metadata: written without padding, read with or without.
const BINARY_METADATA: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Adds a `LocalizedMessage` to every error response that carries an `ErrorInfo`.
#[derive(Debug, Clone)]
pub(crate) struct LocalizeErrorsLayer {
    messages: Arc<ErrorMessages>,
}

impl LocalizeErrorsLayer {
    /// The layer with the built-in catalogs.
    pub(crate) fn built_in() -> anyhow::Result<Self> {
        Ok(Self {
            messages: Arc::new(ErrorMessages::built_in()?),
        })
    }
}

impl<S> Layer<S> for LocalizeErrorsLayer {
    type Service = LocalizeErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LocalizeErrors {
            inner,
            messages: Arc::clone(&self.messages),
        }
    }
}

/// The service [`LocalizeErrorsLayer`] wraps around a port's routes.
#[derive(Debug, Clone)]
pub(crate) struct LocalizeErrors<S> {
    inner: S,
    messages: Arc<ErrorMessages>,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for LocalizeErrors<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        let hints = Arc::new(LocaleHints::new(request.headers()));
        request.extensions_mut().insert(Arc::clone(&hints));
        let messages = Arc::clone(&self.messages);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            add_localized_message(&messages, &hints, response.headers_mut());
            Ok(response)
        })
    }
}

/// Appends the `LocalizedMessage` to the error details in `headers`, if they hold an
/// `ErrorInfo` and no `LocalizedMessage` yet.
fn add_localized_message(messages: &ErrorMessages, hints: &LocaleHints, headers: &mut HeaderMap) {
    let Some(encoded) = headers.get(STATUS_DETAILS) else {
        return;
    };
    let Some(mut status) = BINARY_METADATA
        .decode(encoded.as_bytes())
        .ok()
        .and_then(|bytes| pb::Status::decode(bytes.as_slice()).ok())
    else {
        return;
    };
    let has = |type_url: &str| status.details.iter().find(|any| any.type_url == type_url);
    if has(LocalizedMessage::TYPE_URL).is_some() {
        return;
    }
    let Some(info) =
        has(ErrorInfo::TYPE_URL).and_then(|any| pb::ErrorInfo::decode(any.value.as_slice()).ok())
    else {
        return;
    };
    let Some(localized) = messages.localize(&hints.chosen(), &info.reason, &info.metadata) else {
        return;
    };
    let message = pb::LocalizedMessage {
        locale: localized.locale,
        message: localized.message,
    };
    status.details.push(prost_types::Any {
        type_url: LocalizedMessage::TYPE_URL.to_owned(),
        value: message.encode_to_vec(),
    });
    let encoded = BINARY_METADATA.encode(status.encode_to_vec());
    // Base64 is always a valid header value.
    if let Ok(value) = HeaderValue::try_from(encoded) {
        headers.insert(STATUS_DETAILS, value);
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::Reason;
    use tonic::{Code, Status};
    use tonic_types::StatusExt;

    use super::*;
    use crate::ServiceError;

    fn localized(status: Status, accept_language: &str) -> Status {
        let mut response = status.into_http::<()>();
        let mut request_headers = HeaderMap::new();
        request_headers.insert(
            "accept-language",
            HeaderValue::from_str(accept_language).unwrap(),
        );
        let messages = ErrorMessages::built_in().unwrap();
        add_localized_message(
            &messages,
            &LocaleHints::new(&request_headers),
            response.headers_mut(),
        );
        Status::from_header_map(response.headers()).unwrap()
    }

    #[test]
    fn an_error_gets_its_text_in_the_wanted_language_and_keeps_the_rest() {
        let error = ServiceError::invalid_field("code", "does not match; 4 attempts left")
            .with_reason(Reason::CodeMismatch)
            .with_metadata("attempts_left", "4");
        let status = localized(error.into(), "zh-CN,en;q=0.5");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid code: does not match; 4 attempts left"
        );
        let details = status.get_error_details();
        let message = details.localized_message().expect("a localized message");
        assert_eq!(
            (message.locale.as_str(), message.message.as_str()),
            ("zh-CN", "验证码错误。还可以尝试 4 次。")
        );
        assert_eq!(details.error_info().unwrap().reason, "CODE_MISMATCH");
        assert_eq!(details.bad_request().unwrap().field_violations.len(), 1);
    }

    #[test]
    fn errors_without_error_info_pass_unchanged() {
        let status = localized(Status::unimplemented("no such method"), "en");
        assert!(status.details().is_empty());
        assert_eq!(status.message(), "no such method");
    }
}
