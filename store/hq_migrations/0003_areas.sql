-- Areas and the branch a change belongs to (docs/sync.md, "What is pulled").
--
-- A device belongs to an area ('' : none). A change with a branch (an event
-- imported for one branch) is pulled by that branch and by the other devices
-- of its area, the area being read when the change is pulled; a change
-- without one (members, products, balances, templates) is pulled by every
-- device. Plain TEXT columns and ALTER TABLE ... ADD COLUMN, so that the same
-- statements build a PostgreSQL database.
ALTER TABLE hq_devices ADD COLUMN area TEXT NOT NULL DEFAULT '';
ALTER TABLE hq_changes ADD COLUMN branch TEXT;
CREATE INDEX hq_devices_area ON hq_devices(area);
