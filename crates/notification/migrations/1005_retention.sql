-- The retention job (mi_platform::retention) deletes finished deliveries and dev-inbox
-- messages by created_at (never updated, so these indexes cost the updates nothing); these
-- find them without a scan.
CREATE INDEX deliveries_by_creation ON deliveries (created_at);
CREATE INDEX inbox_messages_by_creation ON inbox_messages (created_at);
