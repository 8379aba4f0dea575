-- The candidate's names on the candidature row itself, so that a staff list sorted by name
-- walks an index instead of sorting a whole formation through the `candidats` join.
ALTER TABLE candidatures ADD COLUMN nom text, ADD COLUMN prenom text;
UPDATE candidatures c SET nom = k.nom, prenom = k.prenom FROM candidats k WHERE k.account_id = c.account_id;
CREATE INDEX candidatures_by_name ON candidatures
    (formation_code, lower(coalesce(nom, '')), lower(coalesce(prenom, '')), id);
