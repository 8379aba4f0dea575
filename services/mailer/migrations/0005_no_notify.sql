-- A queued mail wakes the sender of the process that queued it, after its commit, without a
-- NOTIFY (which takes a lock of the whole server at commit: every notifying commit of every
-- database then waits for the previous one). The other replicas' senders poll.
DROP TRIGGER deliveries_notify ON deliveries;
DROP FUNCTION deliveries_notify();
