-- One key per event at HQ (docs/sync.md, "Events at HQ"). Every branch
-- database numbers its events from 1, so a device's event id names an event
-- only with its device. HQ's key of an event is the key it was imported
-- under (`kioskd hq import events`, tied to the branch's id by its
-- event_linked entry) or, for an event a branch created itself, DEVICE/ID.
-- Sign-ups (the merge rule) and the changes of one event are kept by that
-- key, and a change is served with the event's id at the device pulling it.
ALTER TABLE hq_device_events ADD COLUMN key TEXT;
UPDATE hq_device_events SET key = device || '/' || event_id;
CREATE UNIQUE INDEX hq_device_events_key ON hq_device_events(key, device);

ALTER TABLE hq_signups ADD COLUMN event_key TEXT;
UPDATE hq_signups SET event_key = device || '/' || event_id;
CREATE INDEX hq_signups_event_key_phone ON hq_signups(event_key, phone_hash);

ALTER TABLE hq_changes ADD COLUMN event_key TEXT;
UPDATE hq_changes SET event_key = coalesce(device, 'hq') || '/' || event_id
    WHERE event_id IS NOT NULL;
