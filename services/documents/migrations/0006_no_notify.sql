-- A queued deletion wakes the eraser of the process that queued it, after its commit, without a
-- NOTIFY (which takes a lock of the whole server at commit). The other replicas' erasers poll.
DROP TRIGGER object_deletions_notify ON object_deletions;
DROP FUNCTION object_deletions_notify();
