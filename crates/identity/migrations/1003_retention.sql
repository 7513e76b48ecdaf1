-- Expired rows are deleted by time (mi_platform::retention); these find them without a scan.
-- sessions.refresh_expires_at gets no index: every refresh updates it, and an index on it
-- would turn those updates from in-place (HOT) into index writes; the sweep scans instead.
CREATE INDEX used_refresh_tokens_by_use ON used_refresh_tokens (used_at);
CREATE INDEX spent_verification_tokens_by_expiry ON spent_verification_tokens (expires_at);
CREATE INDEX sign_in_challenges_by_expiry ON sign_in_challenges (expires_at);
