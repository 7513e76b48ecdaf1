//! Raw gRPC calls: any bytes as the request body of any method, so the services' own decoding
//! is what the fuzzer tests, not a client's encoder.

use prost::bytes::{Buf, BufMut};
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Sends and receives message bodies as they are.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        Self
    }

    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// One call of `path` with `body`, and `authorization` metadata when given. A streaming
/// method has answered with its first message (a command channel stays open for as long as
/// the device holds it; the stream is dropped then).
pub(super) async fn call(
    channel: Channel,
    (path, streaming): (&str, bool),
    body: Vec<u8>,
    authorization: Option<MetadataValue<Ascii>>,
) -> Result<(), Status> {
    let mut grpc = Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let mut request = Request::new(body);
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value);
    }
    let path: PathAndQuery = path.parse().unwrap();
    if streaming {
        let mut stream = grpc
            .server_streaming(request, path, RawCodec)
            .await?
            .into_inner();
        return stream.message().await.map(drop);
    }
    grpc.unary(request, path, RawCodec).await.map(drop)
}
