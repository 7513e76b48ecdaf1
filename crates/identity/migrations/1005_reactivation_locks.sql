-- Hardware bound to an account after its device acknowledged an erase (the device registry's
-- DeviceErased), until the owner removes that device (DeviceRemoved). Times are milliseconds
-- since the epoch.
CREATE TABLE reactivation_locks (
    hardware_id TEXT NOT NULL,
    mi_id BIGINT NOT NULL,
    locked_at BIGINT NOT NULL,
    PRIMARY KEY (hardware_id, mi_id)
);
