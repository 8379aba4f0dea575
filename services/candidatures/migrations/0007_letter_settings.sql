-- What the admission letter names: who signs (the centre's signatory, or the formation's own)
-- and the formation's modalités d'inscription.
ALTER TABLE centres
    ADD COLUMN signataire_nom     text,
    ADD COLUMN signataire_qualite text;
ALTER TABLE formations
    ADD COLUMN modalites_inscription text,
    ADD COLUMN signataire_nom        text,
    ADD COLUMN signataire_qualite    text;
