-- Every acceptance of the terms of service and privacy policy, kept for the life of the
-- account as the record of consent (which versions, when, from where); accounts keeps the
-- latest one for sign-in to compare with the current versions.
CREATE TABLE consents (
    mi_id BIGINT NOT NULL,
    terms_version TEXT NOT NULL,
    privacy_policy_version TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    client_address TEXT NOT NULL
);
CREATE INDEX consents_by_account ON consents (mi_id, accepted_at);
-- The consents given at sign-up before this table existed (the client address was not kept).
INSERT INTO consents (mi_id, terms_version, privacy_policy_version, accepted_at, client_address)
SELECT mi_id, terms_version, privacy_policy_version, consent_at, '' FROM accounts;

-- Sign-ins that proved the password (and second factor) and wait for the person to accept the
-- current documents; methods are the session's authentication methods once they do.
CREATE TABLE consent_challenges (
    challenge_id TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    device TEXT NOT NULL,
    client_address TEXT NOT NULL,
    methods TEXT NOT NULL,
    new_device BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX consent_challenges_by_expiry ON consent_challenges (expires_at);
