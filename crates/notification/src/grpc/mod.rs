//! The gRPC face of the notification service: the dev inbox.

use std::sync::Arc;

use mi_platform::{ServiceError, clock, paging};
use mi_proto::notification::v1 as api;
use mi_proto::notification::v1::notification_service_server::NotificationService;
use tonic::{Request, Response, Status};

use crate::domain::{Channel, InboxMessage};
use crate::storage::NotificationStore;

/// Serves `mi.notification.v1.NotificationService`.
#[derive(Debug)]
pub struct NotificationHandler {
    store: Arc<dyn NotificationStore>,
}

impl NotificationHandler {
    /// A handler over the store that keeps the inbox.
    pub fn new(store: Arc<dyn NotificationStore>) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationHandler {
    async fn list_inbox_messages(
        &self,
        request: Request<api::ListInboxMessagesRequest>,
    ) -> Result<Response<api::ListInboxMessagesResponse>, Status> {
        let request = request.into_inner();
        let page_size = paging::page_size(request.page_size)?;
        // The page token is the last message id of the previous page (UUIDv7s sort by time).
        let after = match request.page_token.as_str() {
            "" => None,
            token => Some(
                uuid::Uuid::parse_str(token)
                    .map_err(|_| {
                        ServiceError::invalid_field(
                            "page_token",
                            "is not a token this service returned",
                        )
                    })?
                    .to_string(),
            ),
        };
        let destination = (!request.destination.is_empty()).then_some(request.destination.as_str());
        // One extra row tells whether another page follows.
        let mut messages = self
            .store
            .list_inbox(destination, after.as_deref(), page_size + 1)
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let has_more = messages.len() > usize::try_from(page_size).unwrap_or(usize::MAX);
        messages.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
        let next_page_token = match (has_more, messages.last()) {
            (true, Some(last)) => last.message_id.clone(),
            _ => String::new(),
        };
        Ok(Response::new(api::ListInboxMessagesResponse {
            messages: messages.into_iter().map(to_wire).collect(),
            next_page_token,
        }))
    }
}

fn to_wire(message: InboxMessage) -> api::InboxMessage {
    let channel = match message.message.channel {
        Channel::Sms => api::Channel::Sms,
        Channel::Email => api::Channel::Email,
        Channel::Voice => api::Channel::Voice,
    };
    api::InboxMessage {
        message_id: message.message_id,
        destination: message.message.destination,
        channel: channel.into(),
        subject: message.message.subject,
        body: message.message.body,
        create_time: Some(clock::millis_to_timestamp(message.created_at)),
        source_event_id: message.source_event_id,
    }
}
