-- The account's view (`GET /me`) says whether the account has an eCandidat password and whether it
-- is linked to the ENT: its deletion is confirmed with the one or the other. A change of either (an
-- account linked to the ENT) is announced as 0005 announces the view's other columns, so that every
-- gateway drops what it kept of the account.
CREATE TRIGGER candidate_proofs_changed AFTER UPDATE ON candidates FOR EACH ROW
    WHEN ((OLD.ent_uid IS NULL) <> (NEW.ent_uid IS NULL) OR (OLD.password_hash IS NULL) <> (NEW.password_hash IS NULL))
    EXECUTE FUNCTION principal_changed();
