-- Where an automatic decision comes from: a place freed on the liste complémentaire, or a
-- validated accès direct (NULL: entered by staff).
ALTER TABLE decisions ADD COLUMN origine text CHECK (origine IN ('liste_complementaire', 'acces_direct'));
UPDATE decisions SET origine = 'acces_direct' WHERE automatic AND commentaire = 'Accès direct';
UPDATE decisions SET origine = 'liste_complementaire', commentaire = NULL
 WHERE automatic AND commentaire LIKE 'Une place s''est libérée%';
