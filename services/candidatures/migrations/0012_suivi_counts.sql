-- The staff's dashboard (`GET /staff/candidatures/tableau`): per formation, beside the counts per
-- statut that `statut_counts` keeps (0009), the validated decisions by kind, the decisions entered
-- and not validated yet, the confirmed places and the désistements, kept the same way, by a
-- trigger and in 16 shards, so that a centre of several formations of 100,000 candidatures each is
-- summed from a few hundred rows, not counted.
-- `cle`: `decision:<kind>`, `a_valider`, `confirmee` or `desistee`.

-- A decision entered and not validated yet (validating one deletes the older pending ones): the
-- list's filter `decision=a_valider` and the dashboard read this flag, which a trigger on
-- `decisions` keeps whatever writes them.
ALTER TABLE candidatures ADD COLUMN decision_a_valider boolean NOT NULL DEFAULT false;
UPDATE candidatures c SET decision_a_valider = true
WHERE EXISTS (SELECT 1 FROM decisions d WHERE d.candidature_id = c.id AND d.validated_at IS NULL);

CREATE FUNCTION decision_a_valider_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    candidature uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.candidature_id ELSE NEW.candidature_id END;
    pending boolean;
BEGIN
    pending := EXISTS (SELECT 1 FROM decisions d WHERE d.candidature_id = candidature AND d.validated_at IS NULL);
    UPDATE candidatures SET decision_a_valider = pending WHERE id = candidature AND decision_a_valider <> pending;
    RETURN NULL;
END
$$;

CREATE TRIGGER decisions_a_valider_follow AFTER INSERT OR DELETE OR UPDATE OF validated_at ON decisions
    FOR EACH ROW EXECUTE FUNCTION decision_a_valider_follow();

CREATE TABLE suivi_counts (
    formation_code text NOT NULL,
    cle text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (formation_code, cle, shard)
);

CREATE FUNCTION suivi_cles(decision text, a_valider boolean, confirmed boolean, withdrawn boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_remove(ARRAY[
        CASE WHEN decision IS NOT NULL THEN 'decision:' || decision END,
        CASE WHEN a_valider THEN 'a_valider' END,
        CASE WHEN confirmed THEN 'confirmee' END,
        CASE WHEN withdrawn THEN 'desistee' END
    ], NULL)
$$;

CREATE FUNCTION suivi_count(formation text, cles text[], delta integer) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO suivi_counts AS t
    SELECT formation, cle, floor(random() * 16)::smallint, delta FROM unnest(cles) AS cle
    ON CONFLICT (formation_code, cle, shard) DO UPDATE SET n = t.n + excluded.n
$$;

CREATE FUNCTION suivi_counts_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    cles text[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        cles := suivi_cles(OLD.decision, OLD.decision_a_valider, OLD.confirmed_at IS NOT NULL, OLD.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            PERFORM suivi_count(OLD.formation_code, cles, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        cles := suivi_cles(NEW.decision, NEW.decision_a_valider, NEW.confirmed_at IS NOT NULL, NEW.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            PERFORM suivi_count(NEW.formation_code, cles, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER suivi_counts_on_insert_delete AFTER INSERT OR DELETE ON candidatures
    FOR EACH ROW EXECUTE FUNCTION suivi_counts_follow();
CREATE TRIGGER suivi_counts_on_update
    AFTER UPDATE OF formation_code, decision, decision_a_valider, confirmed_at, withdrawn_at ON candidatures
    FOR EACH ROW WHEN (OLD.formation_code IS DISTINCT FROM NEW.formation_code OR OLD.decision IS DISTINCT FROM NEW.decision
                       OR OLD.decision_a_valider <> NEW.decision_a_valider
                       OR (OLD.confirmed_at IS NULL) <> (NEW.confirmed_at IS NULL)
                       OR (OLD.withdrawn_at IS NULL) <> (NEW.withdrawn_at IS NULL))
    EXECUTE FUNCTION suivi_counts_follow();

INSERT INTO suivi_counts
SELECT formation_code, cle, 0, count(*)
FROM candidatures,
     unnest(suivi_cles(decision, decision_a_valider, confirmed_at IS NOT NULL, withdrawn_at IS NOT NULL)) AS cle
GROUP BY 1, 2;
