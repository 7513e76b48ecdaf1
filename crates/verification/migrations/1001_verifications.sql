-- One row per verification: the code is kept only as a keyed hash.
CREATE TABLE verifications (
    verification_id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX verifications_by_destination ON verifications (destination, created_at);
