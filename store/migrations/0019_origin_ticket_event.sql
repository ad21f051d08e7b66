-- A ticket HQ issues for an event its branch has not linked yet (HQ knows
-- the event only by its own key then) names the event by 0, not by the
-- branch's id (docs/sync.md, "Sign-ups taken at HQ"). The pulled sign-up
-- says so (ticket_event_id), and check-in takes that ticket as naming the
-- event the sign-up is for here. NULL: the ticket names the branch's id.
ALTER TABLE signup_origins ADD COLUMN ticket_event_id INTEGER;
