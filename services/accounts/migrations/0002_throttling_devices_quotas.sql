-- Login throttling keeps, per key, a level that leaks with time (one failure forgotten every
-- WINDOW / FREE seconds) instead of a count that only a full period without failure could lower.
ALTER TABLE login_failures RENAME COLUMN failures TO level;
ALTER TABLE login_failures ALTER COLUMN level TYPE double precision;
ALTER TABLE login_failures RENAME COLUMN last_failure_at TO updated_at;
DELETE FROM login_failures;  -- keys are named differently now ('pair:', 'account:', 'client:')

-- Known devices: a browser that logged in to an account holds a random device token (an HttpOnly
-- cookie set by the gateway); it is stored hashed, once per account it logged in to.
CREATE TABLE devices (
    device_hash   bytea NOT NULL,
    account_id    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz NOT NULL,
    PRIMARY KEY (device_hash, account_id)
);
CREATE INDEX devices_account ON devices (account_id);
CREATE INDEX devices_last_login ON devices (last_login_at);

-- Requests counted against a per-hour limit: mails per address and kind, account creations per
-- client address. The key is a hash (the address itself is not kept); `granted` says whether the
-- request was within the limit.
ALTER TABLE mail_requests RENAME TO limited_requests;
ALTER TABLE limited_requests RENAME COLUMN email_key TO key_hash;
ALTER TABLE limited_requests ADD COLUMN granted boolean NOT NULL DEFAULT true;
DROP INDEX mail_requests_key;
CREATE INDEX limited_requests_key ON limited_requests (key_hash, kind, requested_at);
