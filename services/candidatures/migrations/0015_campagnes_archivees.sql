-- A campaign leaves service when another one is put in service: it is archived then, and its
-- candidatures are destroyed CANDIDATURES_RETENTION_DAYS later (the reference system's campaign
-- archiving and destruction of old dossiers: the durée de conservation of the candidates' data).
ALTER TABLE campagnes
    ADD COLUMN archivee_le timestamptz,
    ADD COLUMN detruite_le timestamptz,
    ADD CONSTRAINT campagnes_en_service_pas_archivee CHECK (NOT (en_service AND archivee_le IS NOT NULL));
-- The campaigns already out of service that hold candidatures are archived as of this migration:
-- their retention starts now, none is destroyed sooner than the setting says.
UPDATE campagnes SET archivee_le = now()
WHERE NOT en_service AND EXISTS (SELECT 1 FROM candidatures c WHERE c.campagne_code = campagnes.code);
-- The destruction reads a campaign's candidatures a batch at a time.
CREATE INDEX candidatures_campagne ON candidatures (campagne_code);
