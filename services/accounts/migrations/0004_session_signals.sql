-- Every change that ends a session or changes what a session resolves to (its principal) is
-- announced at commit on the channel `accounts_sessions_revoked` (NOTIFY is transactional: a
-- rolled-back change announces nothing). The payload is the accounts concerned, comma-separated,
-- or `*` when too many to name. The functions keep the service's schema as their search_path, so
-- that a change made by a tool connected with another search_path is announced too. The service relays it to the gateways (`sig.accounts.sessions_revoked`),
-- which drop what they cached of those accounts' sessions.

CREATE FUNCTION announce_accounts(accounts text[]) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF accounts IS NULL OR cardinality(accounts) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(accounts) > 100 THEN  -- a payload stays under NOTIFY's 8000 bytes
        PERFORM pg_notify('accounts_sessions_revoked', '*');
    ELSE
        PERFORM pg_notify('accounts_sessions_revoked', array_to_string(accounts, ','));
    END IF;
END $$;

CREATE FUNCTION sessions_ended() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM announce_accounts((SELECT array_agg(DISTINCT account_id::text) FROM ended));
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION sessions_ended();

CREATE FUNCTION principal_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM announce_accounts(ARRAY[OLD.account_id::text]);
    RETURN NULL;
END $$;

CREATE TRIGGER candidate_changed AFTER UPDATE ON candidates FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.numero_dossier IS DISTINCT FROM NEW.numero_dossier
          OR OLD.activated_at IS DISTINCT FROM NEW.activated_at)
    EXECUTE FUNCTION principal_changed();
CREATE TRIGGER candidate_deleted AFTER DELETE ON candidates FOR EACH ROW EXECUTE FUNCTION principal_changed();

CREATE TRIGGER staff_changed AFTER UPDATE ON staff_accounts FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.roles IS DISTINCT FROM NEW.roles
          OR OLD.centres IS DISTINCT FROM NEW.centres OR OLD.commissions IS DISTINCT FROM NEW.commissions
          OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at)
    EXECUTE FUNCTION principal_changed();
CREATE TRIGGER staff_deleted AFTER DELETE ON staff_accounts FOR EACH ROW EXECUTE FUNCTION principal_changed();
