-- Connexion via l'ENT (CAS): an account may have no eCandidat password, and is known by its ENT id.
ALTER TABLE candidates ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE candidates ADD COLUMN ent_uid text;
CREATE UNIQUE INDEX candidates_ent_uid ON candidates (ent_uid) WHERE ent_uid IS NOT NULL;

-- The CAS service ticket a session was opened with (hashed): the CAS single logout names it.
ALTER TABLE sessions ADD COLUMN ent_ticket_hash bytea;
CREATE INDEX sessions_ent_ticket ON sessions (ent_ticket_hash) WHERE ent_ticket_hash IS NOT NULL;

-- An ENT identity waiting for the owner of the eCandidat account with the same address to prove
-- its password (single use, short-lived).
CREATE TABLE ent_links (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL,
    ent_uid    text NOT NULL,
    ine        text,
    ticket_hash bytea NOT NULL,  -- the CAS service ticket validated: the session opened at the link ends with its SLO
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ent_links_account ON ent_links (account_id);
