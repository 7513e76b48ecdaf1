-- What each dev-inbox message is: 'code' or 'security_alert'. Messages stored before this
-- column are left empty (their kind was not recorded) and list as unspecified.
ALTER TABLE inbox_messages ADD COLUMN kind TEXT NOT NULL DEFAULT '';
