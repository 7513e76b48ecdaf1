//! ListAuditEntries: the caller's own account's trail, newest first, a page at a time.

use mi_platform::ServiceError;
use mi_platform::paging::PageRequest;
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::DeviceRegistryHandler;
use crate::domain::{AuditEntry, AuditPosition};

impl DeviceRegistryHandler {
    pub(super) async fn list_audit(
        &self,
        request: Request<api::ListAuditEntriesRequest>,
    ) -> Result<Response<api::ListAuditEntriesResponse>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        let page = PageRequest::<AuditPosition>::from_wire(request.page_size, &request.page_token)?;
        let entries = self
            .registry
            .list_audit_entries(owner.mi_id, page.after.as_ref(), page.fetch_limit())
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let page = page.page(entries, AuditEntry::position);
        Ok(Response::new(api::ListAuditEntriesResponse {
            entries: page.items.into_iter().map(entry).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

fn entry(entry: AuditEntry) -> api::AuditEntry {
    api::AuditEntry {
        entry_id: entry.entry_id,
        time: Some(entry.recorded_at.to_timestamp()),
        action: entry.action,
        device_id: entry.device_id,
        command_id: entry.command_id,
        actor: entry.actor,
        session_id: entry.session_id,
        client_address: entry.client_address,
        result: entry.result,
    }
}
