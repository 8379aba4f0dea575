-- The candidate's dossier: one row per candidate account, one row per written section.
CREATE TABLE dossiers (
    account_id   uuid PRIMARY KEY,
    -- informations personnelles are read-only for the candidate once a candidature exists
    locked       boolean NOT NULL DEFAULT false,
    -- the INE whose student records were imported into the dossier, if any
    ine_importe  text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE sections (
    account_id  uuid NOT NULL REFERENCES dossiers (account_id) ON DELETE CASCADE,
    section     text NOT NULL,
    -- optimistic concurrency: a save names the version it read (HTTP If-Match / ETag)
    version     integer NOT NULL CHECK (version > 0),
    data        jsonb NOT NULL,
    -- fields imported from the student records (read-only for the candidate); '*' = whole section
    imported    text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL,
    updated_by  text NOT NULL,
    PRIMARY KEY (account_id, section)
);

-- dossiers whose informations personnelles declare an INE: matched when the registry is loaded
CREATE INDEX sections_declared_ine ON sections ((data ->> 'ine')) WHERE section = 'informations_personnelles';

-- Local projection of `candidature.created`: the lock, and the centres and commissions whose
-- staff may read the candidate's dossier.
CREATE TABLE candidatures (
    candidature_id   uuid PRIMARY KEY,
    account_id       uuid NOT NULL,
    centre_code      text NOT NULL,
    commission_code  text,
    created_at       timestamptz NOT NULL
);
CREATE INDEX candidatures_account ON candidatures (account_id);

-- The university's registry of former students (loaded from a CSV export by an administrator).
CREATE TABLE registre (
    ine        text PRIMARY KEY,
    record     jsonb NOT NULL,
    digest     text NOT NULL,
    loaded_at  timestamptz NOT NULL
);
