//! Every service reports SERVING and lists itself — and nothing it does not serve — through
//! server reflection, v1 and v1alpha.

use crate::support::{Backends, TestPlatform, channel};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// What the v1alpha reflection service lists, as grpcio-reflection's client asks it.
async fn listed_services_v1alpha(address: std::net::SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1alpha as alpha;
    let mut client =
        alpha::server_reflection_client::ServerReflectionClient::new(channel(address).await);
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response {
        Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service
                .into_iter()
                .map(|service| service.name)
                .collect()
        }
        other => panic!("unexpected v1alpha reflection response {other:?}"),
    }
}

/// Whether v1 reflection gives the file that declares `symbol`.
async fn resolves_symbol(address: std::net::SocketAddr, symbol: &str) -> bool {
    let mut client = ServerReflectionClient::new(channel(address).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    matches!(
        response.message_response,
        Some(MessageResponse::FileDescriptorResponse(files)) if !files.file_descriptor_proto.is_empty()
    )
}

async fn listed_services(address: std::net::SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(address).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("unexpected reflection response {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_is_serving_and_reflectable() {
    let platform = TestPlatform::start(Backends::Embedded).await;
    let services = [
        (
            platform.addresses.identity,
            "mi.identity.v1.IdentityService",
        ),
        (
            platform.addresses.verification,
            "mi.verification.v1.VerificationService",
        ),
        (
            platform.addresses.notification,
            "mi.notification.v1.NotificationService",
        ),
        (
            platform.addresses.device,
            "mi.device.v1.DeviceRegistryService",
        ),
    ];
    for (address, name) in services {
        let mut health = HealthClient::new(channel(address).await);
        let status = health
            .check(HealthCheckRequest {
                service: name.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, i32::from(ServingStatus::Serving), "{name}");
        let mut expected = vec![
            name.to_owned(),
            "grpc.health.v1.Health".to_owned(),
            "grpc.reflection.v1.ServerReflection".to_owned(),
            "grpc.reflection.v1alpha.ServerReflection".to_owned(),
        ];
        expected.sort();
        let mut listed = listed_services(address).await;
        listed.sort();
        assert_eq!(listed, expected, "v1 reflection on the port of {name}");
        let mut listed_v1alpha = listed_services_v1alpha(address).await;
        listed_v1alpha.sort();
        assert_eq!(
            listed_v1alpha, expected,
            "v1alpha reflection on the port of {name}"
        );
        assert!(
            resolves_symbol(address, name).await,
            "{name}: reflection cannot resolve its own service"
        );
    }
    platform.stop().await;
}
