-- The gateways keep, beside a candidate's resolved session, the account's own view (`GET /me`:
-- names, INE, address, activation, a pending change of address). A change of what that view shows
-- is announced on the same channel as the sessions' (`accounts_sessions_revoked`, migration 0004),
-- so that every gateway drops what it kept of the account: the columns 0004 does not watch
-- (nom, prenom, ine), and a new pending change of address (a link of purpose `email`). A pending
-- change that ends (consumed: the address changes, announced by 0004; or expired) needs no
-- announcement: a view showing a pending change is never kept (it expires with its link).

CREATE TRIGGER candidate_view_changed AFTER UPDATE ON candidates FOR EACH ROW
    WHEN (OLD.nom IS DISTINCT FROM NEW.nom OR OLD.prenom IS DISTINCT FROM NEW.prenom
          OR OLD.ine IS DISTINCT FROM NEW.ine)
    EXECUTE FUNCTION principal_changed();

CREATE FUNCTION email_links_added() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM announce_accounts((SELECT array_agg(DISTINCT account_id::text) FROM added WHERE purpose = 'email'));
    RETURN NULL;
END $$;

CREATE TRIGGER email_links_added AFTER INSERT ON link_tokens
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION email_links_added();
