-- What a device says about itself beyond its name, the key it signs device tokens with, and
-- what it last reported. Times are milliseconds since the epoch.
ALTER TABLE devices ADD COLUMN hardware_id TEXT NOT NULL DEFAULT '';
-- Comma-separated snake_case names, e.g. `locate,ring`.
ALTER TABLE devices ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
-- Empty when the device has enrolled no key; the key is base64url.
ALTER TABLE devices ADD COLUMN key_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN push_token TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_seen_at BIGINT;
ALTER TABLE devices ADD COLUMN battery_percent BIGINT;
ALTER TABLE devices ADD COLUMN network_type TEXT NOT NULL DEFAULT '';

-- Device tokens already accepted, each kept until it expires: a token is accepted once. The key
-- joins the Mi ID, the device id and the jti without ambiguity.
CREATE TABLE spent_device_tokens (
    token_key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
