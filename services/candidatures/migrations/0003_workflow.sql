-- Staff workflow: decisions and their history, confirmation / désistement, listes complémentaires,
-- the pieces' statuses as the documents service reports them, notes.
ALTER TABLE candidatures
    ADD COLUMN decision_id              uuid,
    ADD COLUMN decision_validated_at    timestamptz,
    ADD COLUMN rang_lc                  int,
    ADD COLUMN date_confirmation        date,
    ADD COLUMN confirmation_deadline    timestamptz,
    ADD COLUMN confirmed_at             timestamptz,
    ADD COLUMN withdrawn_at             timestamptz,
    ADD COLUMN withdrawn_automatically  boolean NOT NULL DEFAULT false,
    ADD COLUMN reminder_sent_at         timestamptz,
    ADD COLUMN pieces_total             int NOT NULL DEFAULT 0,
    ADD COLUMN pieces_ready             int NOT NULL DEFAULT 0,
    ADD COLUMN pieces_refused           int NOT NULL DEFAULT 0;

CREATE TABLE decisions (
    id                 uuid PRIMARY KEY,
    candidature_id     uuid NOT NULL REFERENCES candidatures (id) ON DELETE CASCADE,
    kind               text NOT NULL CHECK (kind IN ('favorable', 'defavorable', 'liste_attente', 'liste_complementaire', 'preselection')),
    motif              text,
    rang               int CHECK (rang IS NULL OR rang > 0),
    preselection_date  date,
    preselection_heure time,
    preselection_lieu  text,
    commentaire        text,
    entered_by         text NOT NULL,
    entered_at         timestamptz NOT NULL,
    validated_by       text,
    validated_at       timestamptz,
    automatic          boolean NOT NULL DEFAULT false,
    CHECK (kind <> 'defavorable' OR motif IS NOT NULL),
    CHECK (kind <> 'liste_complementaire' OR rang IS NOT NULL),
    CHECK (kind <> 'preselection' OR (preselection_date IS NOT NULL AND preselection_lieu IS NOT NULL))
);
CREATE INDEX decisions_candidature ON decisions (candidature_id, entered_at);

-- The pieces of each candidature, as the documents service reports them by events.
CREATE TABLE candidature_pieces (
    candidature_id uuid NOT NULL REFERENCES candidatures (id) ON DELETE CASCADE,
    piece_id       uuid NOT NULL,
    libelle        text NOT NULL,
    statut         text NOT NULL DEFAULT 'en_attente',
    updated_at     timestamptz,
    PRIMARY KEY (candidature_id, piece_id)
);

CREATE TABLE notes (
    id             uuid PRIMARY KEY,
    candidature_id uuid NOT NULL REFERENCES candidatures (id) ON DELETE CASCADE,
    author         text NOT NULL,
    at             timestamptz NOT NULL,
    body           text NOT NULL
);
CREATE INDEX notes_candidature ON notes (candidature_id, at);

-- Who the candidates are (from the accounts service's events), for staff lists and exports.
CREATE TABLE candidats (
    account_id     uuid PRIMARY KEY,
    numero_dossier text NOT NULL,
    nom            text NOT NULL,
    prenom         text NOT NULL,
    email          text NOT NULL
);

-- Staff lists: by formation (or centre), newest transmissions first, keyset-paginated by id.
CREATE INDEX candidatures_list ON candidatures (formation_code, (coalesce(date_reception, '-infinity')) DESC, id DESC);
CREATE INDEX candidatures_centre_list ON candidatures (centre_code, (coalesce(date_reception, '-infinity')) DESC, id DESC);
-- The jobs: answers due, reminders due, the waiting list in rank order.
CREATE INDEX candidatures_confirmation ON candidatures (confirmation_deadline)
    WHERE decision = 'favorable' AND confirmed_at IS NULL AND withdrawn_at IS NULL;
CREATE INDEX candidatures_liste ON candidatures (formation_code, rang_lc)
    WHERE decision = 'liste_complementaire' AND cancelled_at IS NULL AND withdrawn_at IS NULL;
