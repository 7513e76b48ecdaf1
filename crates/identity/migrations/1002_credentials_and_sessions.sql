-- Credentials, consent and second factors of an account. Flags are BIGINT 0/1 and times are
-- milliseconds since the epoch, so the same SQL runs on PostgreSQL and SQLite.
ALTER TABLE accounts ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN terms_version TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN privacy_policy_version TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN consent_at BIGINT NOT NULL DEFAULT 0;
-- The TOTP secret sealed with the TOTP key; pending until the first code confirms it.
ALTER TABLE accounts ADD COLUMN totp_secret BYTEA;
ALTER TABLE accounts ADD COLUMN totp_pending_secret BYTEA;
-- The last TOTP time step accepted: a code is accepted once.
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN code_second_factor BIGINT NOT NULL DEFAULT 0;

-- Phone numbers (E.164) and email addresses (lower case); each belongs to one account.
CREATE TABLE contacts (
    contact_value TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    is_primary BIGINT NOT NULL,
    verified_at BIGINT NOT NULL
);
CREATE INDEX contacts_by_account ON contacts (mi_id);

-- One row per signed-in session; the refresh token is stored as its SHA-256 only.
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    device TEXT NOT NULL,
    client_address TEXT NOT NULL,
    methods TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    auth_time BIGINT NOT NULL,
    refresh_expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (mi_id, created_at);

-- Refresh tokens already traded in: presenting one again revokes its session.
CREATE TABLE used_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    used_at BIGINT NOT NULL
);
CREATE INDEX used_refresh_tokens_by_session ON used_refresh_tokens (session_id);

-- Devices an account has signed in on, to tell a new device.
CREATE TABLE known_devices (
    mi_id BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (mi_id, device_id)
);

-- Sign-ins waiting for a second factor.
CREATE TABLE sign_in_challenges (
    challenge_id TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    device TEXT NOT NULL,
    client_address TEXT NOT NULL,
    reason TEXT NOT NULL,
    methods TEXT NOT NULL,
    new_device BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);

-- One-time recovery codes, as HMACs.
CREATE TABLE recovery_codes (
    mi_id BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (mi_id, code_hash)
);

-- Verification tokens already spent (by their jti), kept until they expire.
CREATE TABLE spent_verification_tokens (
    token_id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
