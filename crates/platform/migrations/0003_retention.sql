-- The retention job (mi_platform::retention) deletes processed-event records by age; this
-- finds them without a scan. outbox_dead_letters has its index by parked_at already.
CREATE INDEX processed_events_by_time ON processed_events (processed_at);
