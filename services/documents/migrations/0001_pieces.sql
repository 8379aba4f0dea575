-- The candidatures as documents needs them (from candidatures' events), one row per piece slot,
-- the piece templates, the single-use tickets of the HTTP endpoint, and the objects to delete.
CREATE TABLE candidatures (
    candidature_id     uuid PRIMARY KEY,
    account_id         uuid NOT NULL,
    numero_dossier     text NOT NULL,
    formation_code     text NOT NULL,
    formation_libelle  text NOT NULL,
    centre_code        text NOT NULL,
    commission_code    text,
    date_limite_retour date NOT NULL,
    cancelled          boolean NOT NULL DEFAULT false,
    transmitted        boolean NOT NULL DEFAULT false,
    frozen_until       timestamptz,
    created_at         timestamptz NOT NULL
);
CREATE INDEX candidatures_account ON candidatures (account_id);

CREATE TABLE piece_slots (
    id             uuid PRIMARY KEY,
    candidature_id uuid NOT NULL REFERENCES candidatures ON DELETE CASCADE,
    piece_id       uuid NOT NULL,
    code           text NOT NULL,
    libelle        text NOT NULL,
    ordre          int NOT NULL,
    conditionnelle boolean NOT NULL,
    statut         text NOT NULL DEFAULT 'en_attente'
                   CHECK (statut IN ('en_attente', 'transmise', 'validee', 'refusee', 'non_concerne')),
    reopened       boolean NOT NULL DEFAULT false,
    file_key       text UNIQUE,
    file_name      text,
    content_type   text,
    size           bigint,
    sha256         text,
    deposited_at   timestamptz,
    comment        text,
    reviewed_by    text,
    reviewed_at    timestamptz,
    UNIQUE (candidature_id, piece_id)
);

CREATE TABLE templates (
    piece_id    uuid PRIMARY KEY,
    libelle     text NOT NULL,
    file_key    text NOT NULL UNIQUE,
    file_name   text NOT NULL,
    size        bigint NOT NULL,
    sha256      text NOT NULL,
    uploaded_by text NOT NULL,
    uploaded_at timestamptz NOT NULL
);

CREATE TABLE tickets (
    token_hash     bytea PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('piece_upload', 'template_upload', 'piece_file', 'template', 'dossier')),
    candidature_id uuid,
    slot_id        uuid,
    piece_id       uuid,
    payload        jsonb NOT NULL,  -- the principal, and what else the ticket carries
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX tickets_expiry ON tickets (expires_at);

-- Objects to remove from storage: written in the transaction that forgets them, removed after.
CREATE TABLE object_deletions (
    file_key     text PRIMARY KEY,
    reason       text NOT NULL,
    requested_at timestamptz NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text
);

CREATE FUNCTION object_deletions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('documents_deletions', '');
    RETURN NULL;
END $$;
CREATE TRIGGER object_deletions_notify AFTER INSERT ON object_deletions
    FOR EACH STATEMENT EXECUTE FUNCTION object_deletions_notify();
