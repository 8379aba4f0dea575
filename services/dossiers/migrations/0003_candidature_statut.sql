-- The statut du dossier and version of each candidature, from candidatures' events: staff scope
-- rules (`ecandidat.contracts.access`) depend on it (a commission examines complete dossiers).
ALTER TABLE candidatures
    ADD COLUMN statut  text NOT NULL DEFAULT 'en_attente',
    ADD COLUMN version int NOT NULL DEFAULT 0;
