-- Every numéro de dossier ever issued: never reused, even after its account is destroyed.
CREATE TABLE numeros (
    numero    text PRIMARY KEY,
    issued_at timestamptz NOT NULL
);

CREATE TABLE candidates (
    account_id          uuid PRIMARY KEY,
    numero_dossier      text NOT NULL UNIQUE REFERENCES numeros (numero),
    email               text NOT NULL,
    nom                 text NOT NULL,
    prenom              text NOT NULL,
    ine                 text,
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL,
    activation_deadline timestamptz NOT NULL,
    activated_at        timestamptz,
    password_changed_at timestamptz
);
CREATE UNIQUE INDEX candidates_email ON candidates (lower(email));
CREATE INDEX candidates_unactivated ON candidates (activation_deadline) WHERE activated_at IS NULL;

CREATE TABLE staff_accounts (
    account_id     uuid PRIMARY KEY,
    email          text NOT NULL,
    nom            text NOT NULL,
    prenom         text NOT NULL,
    roles          text[] NOT NULL,
    centres        text[] NOT NULL DEFAULT '{}',
    commissions    text[] NOT NULL DEFAULT '{}',
    password_hash  text,
    totp_secret    text,            -- sealed with LINK_SEALING_KEY
    totp_confirmed boolean NOT NULL DEFAULT false,
    totp_last_step bigint,          -- the last TOTP time step accepted: a code is never accepted twice
    created_at     timestamptz NOT NULL,
    created_by     uuid,
    disabled_at    timestamptz
);
CREATE UNIQUE INDEX staff_accounts_email ON staff_accounts (lower(email));
CREATE INDEX staff_accounts_centres ON staff_accounts USING gin (centres);

CREATE TABLE recovery_codes (
    account_id uuid NOT NULL REFERENCES staff_accounts ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

-- Single-use link tokens (stored hashed); a used one is deleted, a new one replaces the previous.
CREATE TABLE link_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL,
    purpose    text NOT NULL CHECK (purpose IN ('activation', 'reset', 'email', 'staff_setup')),
    new_email  text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX link_tokens_account ON link_tokens (account_id, purpose);

CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    account_id   uuid NOT NULL,
    realm        text NOT NULL CHECK (realm IN ('candidate', 'staff')),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    client       text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Consecutive failed logins per key ('login:<login>' or 'client:<address>').
CREATE TABLE login_failures (
    key             text PRIMARY KEY,
    failures        int NOT NULL,
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);

-- Requests for activation/credential mails, per address hash (the address itself is not kept).
CREATE TABLE mail_requests (
    id           bigserial PRIMARY KEY,
    email_key    bytea NOT NULL,
    kind         text NOT NULL,
    requested_at timestamptz NOT NULL
);
CREATE INDEX mail_requests_key ON mail_requests (email_key, requested_at);
