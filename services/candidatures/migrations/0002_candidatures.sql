CREATE TABLE candidatures (
    id                     uuid PRIMARY KEY,
    account_id             uuid NOT NULL,
    numero_dossier         text NOT NULL,
    formation_code         text NOT NULL REFERENCES formations (code),
    centre_code            text NOT NULL REFERENCES centres (code),
    campagne_code          text NOT NULL REFERENCES campagnes (code),
    statut                 text NOT NULL DEFAULT 'en_attente'
                           CHECK (statut IN ('en_attente', 'receptionne', 'complet', 'incomplet')),
    statut_date            timestamptz,
    type_traitement        text NOT NULL,
    type_traitement_valide boolean NOT NULL,
    decision               text,
    date_retour            date NOT NULL,
    date_reception         timestamptz,
    created_at             timestamptz NOT NULL,
    cancelled_at           timestamptz,
    version                int NOT NULL DEFAULT 1
);
-- One live candidature per candidate and formation: a cancelled one does not count.
CREATE UNIQUE INDEX candidatures_one_per_formation ON candidatures (account_id, formation_code)
    WHERE cancelled_at IS NULL;
CREATE INDEX candidatures_account ON candidatures (account_id, created_at);
CREATE INDEX candidatures_formation ON candidatures (formation_code, statut);

-- What happened to a candidature, who did it and when.
CREATE TABLE candidature_history (
    id             bigserial PRIMARY KEY,
    candidature_id uuid NOT NULL REFERENCES candidatures (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX candidature_history_candidature ON candidature_history (candidature_id, id);
