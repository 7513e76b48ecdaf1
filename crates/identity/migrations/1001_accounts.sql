-- Accounts, keyed by their numeric Mi ID.
CREATE TABLE accounts (
    mi_id BIGINT PRIMARY KEY,
    display_name TEXT NOT NULL,
    region TEXT NOT NULL,
    locale TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
