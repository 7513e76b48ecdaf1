-- The relay claims whole aggregates: it skips every row whose message key (aggregate id) has a
-- row leased to another relay, a lookup by key. Portable SQL.
CREATE INDEX outbox_by_message_key ON outbox (message_key, lease_expires_at);
