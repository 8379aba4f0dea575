-- The exact instant a candidature's date limite de retour ends (an incident may extend it by
-- some hours), and the revision of the last deadline change applied (from candidatures' events).
ALTER TABLE candidatures
    ADD COLUMN limite_retour     timestamptz,
    ADD COLUMN deadline_revision int NOT NULL DEFAULT 0;
