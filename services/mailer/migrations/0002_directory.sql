-- What the mailer knows of candidates and candidatures, from the events of their owners, so that
-- a mail about a candidature reaches the candidate's current address with the right names.
CREATE TABLE contacts (
    account_id     uuid PRIMARY KEY,
    numero_dossier text NOT NULL,
    nom            text NOT NULL,
    prenom         text NOT NULL,
    email          text NOT NULL
);

CREATE TABLE candidatures (
    candidature_id     uuid PRIMARY KEY,
    account_id         uuid NOT NULL,
    formation_libelle  text NOT NULL,
    centre_libelle     text NOT NULL,
    date_limite_retour date NOT NULL
);
CREATE INDEX candidatures_account ON candidatures (account_id);
