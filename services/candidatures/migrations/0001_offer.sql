-- The offer: campaigns, centres de candidature, types de diplôme, commissions, formations, pieces.
CREATE TABLE campagnes (
    code        text PRIMARY KEY,
    libelle     text NOT NULL,
    debut       date NOT NULL,
    fin         date NOT NULL,
    prefix      char(2) NOT NULL,
    en_service  boolean NOT NULL DEFAULT false,
    CHECK (fin >= debut)
);
-- One campaign in service at a time.
CREATE UNIQUE INDEX campagnes_en_service ON campagnes (en_service) WHERE en_service;

CREATE TABLE centres (
    code              text PRIMARY KEY,
    libelle           text NOT NULL,
    contact_libelle   text NOT NULL,
    contact_adresse   text NOT NULL,
    contact_mail      text,
    max_candidatures  int NOT NULL DEFAULT 20 CHECK (max_candidatures > 0),
    ordre             int NOT NULL DEFAULT 0
);

CREATE TABLE types_diplome (
    code    text PRIMARY KEY,
    libelle text NOT NULL,
    ordre   int NOT NULL DEFAULT 0
);

CREATE TABLE commissions (
    code        text PRIMARY KEY,
    libelle     text NOT NULL,
    centre_code text NOT NULL REFERENCES centres (code)
);

CREATE TABLE formations (
    code                     text PRIMARY KEY,
    libelle                  text NOT NULL,
    centre_code              text NOT NULL REFERENCES centres (code),
    type_code                text NOT NULL REFERENCES types_diplome (code),
    commission_code          text REFERENCES commissions (code),
    type_traitement          text NOT NULL CHECK (type_traitement IN ('acces_controle', 'acces_direct')),
    capacite                 int CHECK (capacite IS NULL OR capacite >= 0),
    depot_debut              date NOT NULL,
    depot_fin                date NOT NULL,
    date_retour              date NOT NULL,
    date_confirmation        date,
    delai_confirmation_jours int CHECK (delai_confirmation_jours IS NULL OR delai_confirmation_jours > 0),
    date_jury                date,
    date_publication         date,
    ouverte                  boolean NOT NULL DEFAULT true,
    CHECK (depot_fin >= depot_debut),
    CHECK (date_retour >= depot_debut)
);
CREATE INDEX formations_centre ON formations (centre_code, type_code);

CREATE TABLE pieces (
    id                     uuid PRIMARY KEY,
    code                   text NOT NULL UNIQUE,
    libelle                text NOT NULL,
    ordre                  int NOT NULL DEFAULT 0,
    niveau                 text NOT NULL CHECK (niveau IN ('etablissement', 'centre', 'formation')),
    centre_code            text REFERENCES centres (code),
    formation_code         text REFERENCES formations (code),
    conditionnelle         boolean NOT NULL DEFAULT false,
    unique_par_candidature boolean NOT NULL DEFAULT true,
    has_template           boolean NOT NULL DEFAULT false,
    types_traitement       text[] NOT NULL DEFAULT '{}',
    CHECK ((niveau = 'centre') = (centre_code IS NOT NULL)),
    CHECK ((niveau = 'formation') = (formation_code IS NOT NULL))
);
