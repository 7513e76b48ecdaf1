//! The gRPC face of the notification service: the dev inbox, wire ↔ domain.

use std::sync::Arc;

use mi_contracts::text;
use mi_platform::ServiceError;
use mi_platform::contact::MAX_CONTACT_CHARS;
use mi_platform::paging::PageRequest;
use mi_proto::contracts::channel_to_wire;
use mi_proto::notification::v1 as api;
use mi_proto::notification::v1::notification_service_server::NotificationService;
use tonic::{Request, Response, Status};

use crate::domain::{InboxFilter, InboxMessage, MessageKind, Notifier};

/// Serves `mi.notification.v1.NotificationService`.
#[derive(Debug)]
pub(crate) struct NotificationHandler {
    notifier: Arc<Notifier>,
    dev_inbox: bool,
}

impl NotificationHandler {
    /// A handler over the notifier that keeps the inbox; it is read only where `dev_inbox`
    /// ([`crate::config::Settings::dev_inbox`]).
    pub(crate) fn new(notifier: Arc<Notifier>, dev_inbox: bool) -> Self {
        Self {
            notifier,
            dev_inbox,
        }
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationHandler {
    async fn list_inbox_messages(
        &self,
        request: Request<api::ListInboxMessagesRequest>,
    ) -> Result<Response<api::ListInboxMessagesResponse>, Status> {
        if !self.dev_inbox {
            return Err(Status::unimplemented(
                "the dev inbox is off with PostgreSQL (see dev.allow_dev_inbox)",
            ));
        }
        let request = request.into_inner();
        text::check_lengths(&[("destination", &request.destination, MAX_CONTACT_CHARS)])
            .map_err(ServiceError::from)?;
        let filter = InboxFilter {
            destination: (!request.destination.is_empty()).then_some(request.destination.as_str()),
            kind: kind_from_wire(request.kind)?,
        };
        // The page key is a message id; message ids are UUIDv7s, which sort by time.
        let page = PageRequest::<String>::from_wire(request.page_size, &request.page_token)?;
        let messages = self
            .notifier
            .list_inbox(&filter, page.after.as_deref(), page.fetch_limit())
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let page = page.page(messages, |message| message.message_id.clone());
        Ok(Response::new(api::ListInboxMessagesResponse {
            messages: page.items.into_iter().map(to_wire).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

/// The kind a request filters on; unspecified filters on none.
fn kind_from_wire(value: i32) -> Result<Option<MessageKind>, ServiceError> {
    match api::MessageKind::try_from(value) {
        Ok(api::MessageKind::Unspecified) => Ok(None),
        Ok(api::MessageKind::Code) => Ok(Some(MessageKind::Code)),
        Ok(api::MessageKind::SecurityAlert) => Ok(Some(MessageKind::SecurityAlert)),
        Ok(api::MessageKind::PushWakeUp) => Ok(Some(MessageKind::PushWakeUp)),
        Err(_) => Err(ServiceError::invalid_field(
            "kind",
            "must be MESSAGE_KIND_CODE, MESSAGE_KIND_SECURITY_ALERT, MESSAGE_KIND_PUSH_WAKE_UP or \
             unspecified",
        )),
    }
}

fn kind_to_wire(kind: Option<MessageKind>) -> api::MessageKind {
    match kind {
        None => api::MessageKind::Unspecified,
        Some(MessageKind::Code) => api::MessageKind::Code,
        Some(MessageKind::SecurityAlert) => api::MessageKind::SecurityAlert,
        Some(MessageKind::PushWakeUp) => api::MessageKind::PushWakeUp,
    }
}

fn to_wire(message: InboxMessage) -> api::InboxMessage {
    api::InboxMessage {
        message_id: message.message_id,
        destination: message.message.destination,
        channel: channel_to_wire(message.message.channel),
        subject: message.message.subject,
        body: message.message.body,
        create_time: Some(message.created_at.to_timestamp()),
        source_event_id: message.source_event_id,
        kind: kind_to_wire(message.kind).into(),
    }
}
