-- The retention job (mi_platform::retention) deletes verifications by expires_at, long after
-- their code stopped working; this finds them without a scan.
CREATE INDEX verifications_by_expiry ON verifications (expires_at);
