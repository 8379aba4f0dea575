-- The staff's dashboard (`GET /staff/candidatures/tableau`): per formation, beside the counts per
-- statut that `statut_counts` keeps (0009), the validated decisions by kind, the confirmed places
-- and the désistements, kept the same way, by a trigger and in 16 shards, so that a centre of
-- several formations of 100,000 candidatures each is summed from a few hundred rows, not counted.
-- `cle`: `decision:<kind>`, `confirmee` or `desistee`. The decisions entered and not validated yet
-- (a gestionnaire's work of the day) are few at any time: found by a partial index, not kept.
CREATE TABLE suivi_counts (
    formation_code text NOT NULL,
    cle text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (formation_code, cle, shard)
);

CREATE FUNCTION suivi_cles(decision text, confirmed boolean, withdrawn boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_remove(ARRAY[
        CASE WHEN decision IS NOT NULL THEN 'decision:' || decision END,
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
        cles := suivi_cles(OLD.decision, OLD.confirmed_at IS NOT NULL, OLD.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            PERFORM suivi_count(OLD.formation_code, cles, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        cles := suivi_cles(NEW.decision, NEW.confirmed_at IS NOT NULL, NEW.withdrawn_at IS NOT NULL);
        IF cardinality(cles) > 0 THEN
            PERFORM suivi_count(NEW.formation_code, cles, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER suivi_counts_on_insert_delete AFTER INSERT OR DELETE ON candidatures
    FOR EACH ROW EXECUTE FUNCTION suivi_counts_follow();
CREATE TRIGGER suivi_counts_on_update AFTER UPDATE OF formation_code, decision, confirmed_at, withdrawn_at ON candidatures
    FOR EACH ROW WHEN (OLD.formation_code IS DISTINCT FROM NEW.formation_code OR OLD.decision IS DISTINCT FROM NEW.decision
                       OR (OLD.confirmed_at IS NULL) <> (NEW.confirmed_at IS NULL)
                       OR (OLD.withdrawn_at IS NULL) <> (NEW.withdrawn_at IS NULL))
    EXECUTE FUNCTION suivi_counts_follow();

INSERT INTO suivi_counts
SELECT formation_code, cle, 0, count(*)
FROM candidatures, unnest(suivi_cles(decision, confirmed_at IS NOT NULL, withdrawn_at IS NOT NULL)) AS cle
GROUP BY 1, 2;

CREATE INDEX decisions_a_valider ON decisions (candidature_id) WHERE validated_at IS NULL;
