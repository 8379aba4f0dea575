-- A candidature's date limite de retour follows its formation's, unless staff set its own
-- (`date_retour_individuelle`); an incident may extend it by some hours (`prolongation_heures`,
-- added to whichever date applies). Before, each candidature kept a copy of the formation's date
-- taken when it was made, so a later change of the formation's date never reached it.
ALTER TABLE candidatures RENAME COLUMN date_retour TO date_retour_individuelle;
ALTER TABLE candidatures ALTER COLUMN date_retour_individuelle DROP NOT NULL;
UPDATE candidatures c SET date_retour_individuelle = NULL
  FROM formations f WHERE f.code = c.formation_code AND c.date_retour_individuelle = f.date_retour;
ALTER TABLE candidatures ADD COLUMN prolongation_heures int NOT NULL DEFAULT 0 CHECK (prolongation_heures >= 0);

-- Campaign-wide extensions after an incident: one per incident (its start), audited.
CREATE TABLE prolongations (
    id             uuid PRIMARY KEY,
    campagne_code  text NOT NULL REFERENCES campagnes (code),
    incident_debut timestamptz NOT NULL,
    heures         int NOT NULL CHECK (heures > 0),
    motif          text NOT NULL,
    par            text NOT NULL,
    le             timestamptz NOT NULL,
    candidatures   int NOT NULL,
    UNIQUE (campagne_code, incident_debut)
);
