//! The codec of every generated service and client: prost's, except for a message that does not
//! decode. tonic-prost answers that with INTERNAL, which tells a client the server failed; a
//! request body that is not the message it should be is the client's mistake, so the servers
//! answer INVALID_ARGUMENT with the platform's `ErrorInfo` (docs/fuzzing.md, finding 1).

use std::collections::HashMap;
use std::marker::PhantomData;

use mi_contracts::{ERROR_DOMAIN, Reason};
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::ProstEncoder;
use tonic_types::{ErrorDetails, StatusExt};

/// The encode buffer a response starts with (tonic's default is 8 KiB). A streamed response
/// keeps its buffer while the stream is open, so every idle command channel held 8 KiB for
/// heartbeats of a few dozen bytes. A larger message grows the buffer as it needs.
const ENCODE_BUFFER_BYTES: usize = 1024;

/// tonic's default: a stream yields once this much is encoded.
const YIELD_THRESHOLD_BYTES: usize = 32 * 1024;

/// Encodes `T` and decodes `U` with prost.
#[derive(Debug, Clone, Copy)]
pub struct WireCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for WireCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for WireCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = WireDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::new(
            ENCODE_BUFFER_BYTES,
            YIELD_THRESHOLD_BYTES,
        ))
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireDecoder(PhantomData)
    }
}

/// Decodes `U`; a body that is not one is INVALID_ARGUMENT.
#[derive(Debug, Clone, Copy)]
pub struct WireDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for WireDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|error| malformed(&error))
    }
}

fn malformed(error: &prost::DecodeError) -> Status {
    let mut details = ErrorDetails::new();
    let reason = Reason::InvalidArgument.as_str();
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("malformed request: {error}"),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_does_not_decode_is_invalid_argument() {
        // Field 1 as a varint where a string is expected.
        let error = crate::verification::v1::CheckCodeRequest::decode(&[0x08, 0x01][..])
            .expect_err("wrong wire type");
        let status = malformed(&error);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "INVALID_ARGUMENT");
    }
}
