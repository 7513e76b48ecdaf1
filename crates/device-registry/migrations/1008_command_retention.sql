-- The retention job (mi_platform::retention) deletes finished commands by completed_at; this
-- finds them without a scan (unfinished ones have none and are never deleted).
CREATE INDEX device_commands_by_completion ON device_commands (completed_at);
