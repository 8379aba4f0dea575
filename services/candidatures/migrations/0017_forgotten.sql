-- What this service erased stays erased (ecandidat.runtime.forgotten): the accounts purged and the
-- candidatures destroyed, so that an event about them that comes late (another stream's consumer
-- behind, a replay) brings nothing back.
CREATE TABLE forgotten (
    id    uuid PRIMARY KEY,  -- an account's or a candidature's id
    kind  text NOT NULL CHECK (kind IN ('account', 'candidature')),
    at    timestamptz NOT NULL
);
