-- The staff's lists are one campaign's (0018): their keyset indexes lead with the formation (or the
-- centre) and the campaign, so that a page of this campaign reads this campaign's rows only,
-- whatever an archived campaign keeps of the same formation (the default order puts the
-- candidatures not transmitted yet, without a reception date, after every dated row: without the
-- campaign in the index, a page of them read all of last year's first).
CREATE INDEX candidatures_campagne_list
    ON candidatures (formation_code, campagne_code, (coalesce(date_reception, '-infinity')) DESC, id DESC);
CREATE INDEX candidatures_campagne_centre_list
    ON candidatures (centre_code, campagne_code, (coalesce(date_reception, '-infinity')) DESC, id DESC);
CREATE INDEX candidatures_campagne_by_name
    ON candidatures (formation_code, campagne_code, lower(coalesce(nom, '')), lower(coalesce(prenom, '')), id);
DROP INDEX candidatures_list;
DROP INDEX candidatures_centre_list;
DROP INDEX candidatures_by_name;
