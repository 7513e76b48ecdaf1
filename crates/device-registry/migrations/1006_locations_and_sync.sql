-- Location history: what devices reported while Find Device was on, for
-- `device.location_history` (24 hours), deleted by the retention job by measured_at. A device
-- reports one location per instant: the key joins the Mi ID, the device id (after its length,
-- so no pair poses as another) and measured_at, so a retried report is not stored twice.
CREATE TABLE device_locations (
    location_key TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    measured_at BIGINT NOT NULL,
    latitude DOUBLE PRECISION NOT NULL,
    longitude DOUBLE PRECISION NOT NULL,
    accuracy_meters DOUBLE PRECISION NOT NULL,
    -- gps, network, wifi; empty when the device did not say.
    source TEXT NOT NULL DEFAULT '',
    battery_percent BIGINT
);
CREATE INDEX device_locations_by_device ON device_locations (mi_id, device_id, measured_at);
CREATE INDEX device_locations_by_time ON device_locations (measured_at);

-- Cloud-sync settings on the device's own row: an update is one compare-and-set of that row
-- (`WHERE sync_version = <the version it was made from>`), so concurrent writers are settled by
-- the row lock and the settings go with the device when it is removed. Version 0 means never
-- set: the defaults below (sync on, Wi-Fi only, every data type on). sync_updated_by is
-- `owner` or `device`, empty at version 0.
ALTER TABLE devices ADD COLUMN sync_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN sync_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_wifi_only BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_gallery BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_contacts BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_messages BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_call_history BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_notes BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_calendar BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_recordings BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_wifi_networks BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_browser BIGINT NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN sync_updated_at BIGINT;
ALTER TABLE devices ADD COLUMN sync_updated_by TEXT NOT NULL DEFAULT '';
