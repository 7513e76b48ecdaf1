//! Every service reports SERVING and lists itself through server reflection.

use crate::support::{Backends, TestPlatform, channel};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

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
        let listed = listed_services(address).await;
        assert!(
            listed.iter().any(|service| service == name),
            "{name} not in {listed:?}"
        );
        assert!(
            listed
                .iter()
                .any(|service| service == "grpc.health.v1.Health"),
            "{listed:?}"
        );
        assert!(
            listed
                .iter()
                .any(|service| service == "grpc.reflection.v1.ServerReflection"),
            "{listed:?}"
        );
    }
    platform.stop().await;
}
