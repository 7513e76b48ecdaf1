-- The settings an `apply_sync_settings` command carries to its device (the owner's change), as
-- JSON; empty for the other actions.
ALTER TABLE device_commands ADD COLUMN sync_settings TEXT NOT NULL DEFAULT '';
