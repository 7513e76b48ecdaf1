-- 1 when the client named a challenge contact and knows the destination only masked:
-- CheckCode then shows it masked too.
ALTER TABLE verifications ADD COLUMN destination_hidden BIGINT NOT NULL DEFAULT 0;
