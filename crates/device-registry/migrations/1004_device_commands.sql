-- The Find Device command queue: one row per command. Times are milliseconds since the epoch.
-- A retried IssueCommand finds its command by (mi_id, device_id, command_id); `sequence` orders
-- a device's commands as issued (delivery in that order, listing newest first).
CREATE TABLE device_commands (
    mi_id BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    -- snake_case: locate, ring, enable_lost_mode, disable_lost_mode, erase.
    action TEXT NOT NULL,
    -- The parameters of enable_lost_mode; empty for the other actions.
    lost_mode_message TEXT NOT NULL DEFAULT '',
    lost_mode_phone_number TEXT NOT NULL DEFAULT '',
    lost_mode_footnote TEXT NOT NULL DEFAULT '',
    -- snake_case: queued, delivered, not_now (unfinished); succeeded, failed, expired, canceled.
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    completed_at BIGINT,
    -- NULL for erase, which waits until the device comes back or the owner cancels it.
    expires_at BIGINT,
    not_now_count BIGINT NOT NULL DEFAULT 0,
    -- When it is due on the device's channel (after a not-now: the end of its backoff).
    next_attempt_at BIGINT NOT NULL,
    -- A done Locate's location.
    result_latitude DOUBLE PRECISION,
    result_longitude DOUBLE PRECISION,
    result_accuracy_meters DOUBLE PRECISION,
    result_located_at BIGINT,
    result_location_source TEXT NOT NULL DEFAULT '',
    result_location_battery BIGINT,
    -- A failed command's error, as the device gave it.
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mi_id, device_id, command_id)
);
CREATE UNIQUE INDEX device_commands_in_order ON device_commands (mi_id, device_id, sequence);
-- The expiry sweep reads unfinished commands by expiry time.
CREATE INDEX device_commands_by_expiry ON device_commands (state, expires_at);
-- At most one unfinished erase per device, even when two are issued at once on two replicas
-- (a done erase is the device's erased_at).
CREATE UNIQUE INDEX device_commands_one_erase ON device_commands (mi_id, device_id)
    WHERE action = 'erase' AND state IN ('queued', 'delivered', 'not_now');

-- Open command channels, one per device, on any replica: `channel_id` names the newest (an
-- older channel that finds another id here ends); a row whose heartbeat is older than two
-- heartbeat intervals is stale (its replica died). A device with no live row is woken by push.
CREATE TABLE device_channels (
    mi_id BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    PRIMARY KEY (mi_id, device_id)
);
