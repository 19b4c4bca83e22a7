-- Porchlight metadata, version 3: sessions remember the roster device that
-- signed in (its key id, '' if the client sent none), so dropping the device
-- from the roster ends its sessions; wraps are found by device to delete
-- them.

ALTER TABLE sessions ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_device ON sessions (device_id) WHERE device_id <> '';
CREATE INDEX wraps_device ON wraps (device_id);
