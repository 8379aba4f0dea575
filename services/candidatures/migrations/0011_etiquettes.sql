-- Étiquettes the staff put on candidatures to sort their work (« À revoir », « Dossier
-- prioritaire »…), the same for the whole establishment. An archived one stays on the candidatures
-- that have it and is no longer offered; none is ever deleted, so a candidature's codes always
-- name one.
CREATE TABLE etiquettes (
    code text PRIMARY KEY,
    libelle text NOT NULL,
    couleur text NOT NULL,
    ordre integer NOT NULL DEFAULT 0,
    archivee boolean NOT NULL DEFAULT false
);

ALTER TABLE candidatures
    ADD COLUMN etiquettes text[] NOT NULL DEFAULT '{}';
