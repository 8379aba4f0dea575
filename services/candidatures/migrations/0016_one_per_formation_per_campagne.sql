-- One live candidature per candidate and formation in each campaign (a cancelled one does not
-- count): a candidate applies again to a formation in the next campaign while the candidature of
-- the archived one is still kept (0015).
DROP INDEX candidatures_one_per_formation;
CREATE UNIQUE INDEX candidatures_one_per_formation ON candidatures (account_id, campagne_code, formation_code)
    WHERE cancelled_at IS NULL;
