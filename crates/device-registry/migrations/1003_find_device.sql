-- Find Device state per device. Times are milliseconds since the epoch. Lost Mode is on when
-- lost_mode_since is set; erased_at is set when the device acknowledged an erase.
ALTER TABLE devices ADD COLUMN find_device_enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN lost_mode_message TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN lost_mode_phone_number TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN lost_mode_footnote TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN lost_mode_since BIGINT;
ALTER TABLE devices ADD COLUMN erased_at BIGINT;
-- The last location reported while Find Device was on (the history is in its own table).
ALTER TABLE devices ADD COLUMN last_latitude DOUBLE PRECISION;
ALTER TABLE devices ADD COLUMN last_longitude DOUBLE PRECISION;
ALTER TABLE devices ADD COLUMN last_accuracy_meters DOUBLE PRECISION;
ALTER TABLE devices ADD COLUMN last_located_at BIGINT;
ALTER TABLE devices ADD COLUMN last_location_source TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_location_battery BIGINT;
