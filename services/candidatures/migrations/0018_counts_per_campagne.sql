-- The staff's lists, counts and dashboards are each campaign's own (the one in service by default,
-- an archived one while its candidatures are kept, 0015): the counters of 0009 and 0012 are kept
-- per formation and campaign, so that last year's admitted candidates do not count as this year's.
-- The candidatures first, as every writer of candidatures takes them before the counters (their
-- triggers): no deadlock with a replica of the previous version writing during the migration.
LOCK TABLE candidatures IN SHARE MODE;
ALTER TABLE statut_counts ADD COLUMN campagne_code text;
ALTER TABLE suivi_counts ADD COLUMN campagne_code text;
DELETE FROM statut_counts;
DELETE FROM suivi_counts;
ALTER TABLE statut_counts ALTER COLUMN campagne_code SET NOT NULL,
    DROP CONSTRAINT statut_counts_pkey,
    ADD PRIMARY KEY (formation_code, campagne_code, statut, annulee, shard);
ALTER TABLE suivi_counts ALTER COLUMN campagne_code SET NOT NULL,
    DROP CONSTRAINT suivi_counts_pkey,
    ADD PRIMARY KEY (formation_code, campagne_code, cle, shard);

CREATE OR REPLACE FUNCTION statut_counts_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO statut_counts AS t (formation_code, campagne_code, statut, annulee, shard, n)
        VALUES (OLD.formation_code, OLD.campagne_code, OLD.statut, OLD.cancelled_at IS NOT NULL,
                floor(random() * 16)::smallint, -1)
        ON CONFLICT (formation_code, campagne_code, statut, annulee, shard) DO UPDATE SET n = t.n + excluded.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO statut_counts AS t (formation_code, campagne_code, statut, annulee, shard, n)
        VALUES (NEW.formation_code, NEW.campagne_code, NEW.statut, NEW.cancelled_at IS NOT NULL,
                floor(random() * 16)::smallint, 1)
        ON CONFLICT (formation_code, campagne_code, statut, annulee, shard) DO UPDATE SET n = t.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION suivi_counts_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    cles text[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        cles := suivi_cles(OLD.decision, OLD.decision_a_valider, OLD.confirmed_at IS NOT NULL, OLD.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            INSERT INTO suivi_counts AS t (formation_code, campagne_code, cle, shard, n)
            SELECT OLD.formation_code, OLD.campagne_code, cle, floor(random() * 16)::smallint, -1 FROM unnest(cles) AS cle
            ON CONFLICT (formation_code, campagne_code, cle, shard) DO UPDATE SET n = t.n + excluded.n;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        cles := suivi_cles(NEW.decision, NEW.decision_a_valider, NEW.confirmed_at IS NOT NULL, NEW.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            INSERT INTO suivi_counts AS t (formation_code, campagne_code, cle, shard, n)
            SELECT NEW.formation_code, NEW.campagne_code, cle, floor(random() * 16)::smallint, 1 FROM unnest(cles) AS cle
            ON CONFLICT (formation_code, campagne_code, cle, shard) DO UPDATE SET n = t.n + excluded.n;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

INSERT INTO statut_counts (formation_code, campagne_code, statut, annulee, shard, n)
SELECT formation_code, campagne_code, statut, cancelled_at IS NOT NULL, 0, count(*) FROM candidatures GROUP BY 1, 2, 3, 4;
INSERT INTO suivi_counts (formation_code, campagne_code, cle, shard, n)
SELECT formation_code, campagne_code, cle, 0, count(*)
FROM candidatures,
     unnest(suivi_cles(decision, decision_a_valider, confirmed_at IS NOT NULL, withdrawn_at IS NOT NULL)) AS cle
GROUP BY 1, 2, 3;
