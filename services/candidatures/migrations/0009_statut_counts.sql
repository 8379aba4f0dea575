-- The counts per statut of a formation's list (`GET /staff/candidatures/comptes`), kept as the
-- candidatures change instead of counted at each request: over 100,000 candidatures of one
-- formation, counting them took 50-270 ms whatever the index (bench/staff_pages.py). A trigger
-- keeps them, so every way a candidature is created, changes statut, is cancelled or deleted is
-- counted. Each count is spread over 16 rows (`shard`, chosen at random by each change) so that
-- concurrent transactions on one formation (a burst of applications) do not wait on one row lock;
-- a count is the sum of its shards.
CREATE TABLE statut_counts (
    formation_code text NOT NULL,
    statut text NOT NULL,
    annulee boolean NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (formation_code, statut, annulee, shard)
);

CREATE FUNCTION count_statut(formation text, s text, cancelled boolean, delta integer) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO statut_counts AS t VALUES (formation, s, cancelled, floor(random() * 16)::smallint, delta)
    ON CONFLICT (formation_code, statut, annulee, shard) DO UPDATE SET n = t.n + excluded.n
$$;

CREATE FUNCTION statut_counts_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM count_statut(OLD.formation_code, OLD.statut, OLD.cancelled_at IS NOT NULL, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM count_statut(NEW.formation_code, NEW.statut, NEW.cancelled_at IS NOT NULL, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER statut_counts_on_insert_delete AFTER INSERT OR DELETE ON candidatures
    FOR EACH ROW EXECUTE FUNCTION statut_counts_follow();
CREATE TRIGGER statut_counts_on_update AFTER UPDATE OF formation_code, statut, cancelled_at ON candidatures
    FOR EACH ROW WHEN (OLD.formation_code IS DISTINCT FROM NEW.formation_code OR OLD.statut IS DISTINCT FROM NEW.statut
                       OR (OLD.cancelled_at IS NULL) <> (NEW.cancelled_at IS NULL))
    EXECUTE FUNCTION statut_counts_follow();

INSERT INTO statut_counts
SELECT formation_code, statut, cancelled_at IS NOT NULL, 0, count(*) FROM candidatures GROUP BY 1, 2, 3;
