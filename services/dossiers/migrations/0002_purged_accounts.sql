-- Accounts whose data was erased (`account.purged`). Events of other producers can arrive after
-- the purge (streams are not ordered with each other): a late `candidature.created` must not
-- bring an erased candidate's dossier back.
CREATE TABLE purged_accounts (
    account_id  uuid PRIMARY KEY,
    purged_at   timestamptz NOT NULL
);
