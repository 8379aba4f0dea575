-- The dossier's optional sections (cursus externe, stages, expériences professionnelles) that an
-- application to a formation requires; none by default: they stay optional, as for the DAEU.
ALTER TABLE formations
    ADD COLUMN rubriques_exigees text[] NOT NULL DEFAULT '{}';
