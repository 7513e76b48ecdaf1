-- Resend reuses a verification: count its sends and keep the locale of its messages.
ALTER TABLE verifications ADD COLUMN send_count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE verifications ADD COLUMN locale TEXT NOT NULL DEFAULT '';
