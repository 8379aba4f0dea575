-- The letters generated for validated decisions, and the decision each candidature currently
-- has (from `decision.validated`): the candidate downloads the letter of their current decision.
ALTER TABLE candidatures
    ADD COLUMN decision_id       uuid,
    ADD COLUMN decision_revision int NOT NULL DEFAULT 0;

CREATE TABLE letters (
    decision_id    uuid PRIMARY KEY,
    candidature_id uuid NOT NULL REFERENCES candidatures ON DELETE CASCADE,
    kind           text NOT NULL,
    file_key       text NOT NULL UNIQUE,
    file_name      text NOT NULL,
    size           bigint NOT NULL,
    generated_at   timestamptz NOT NULL
);
CREATE INDEX letters_candidature ON letters (candidature_id);

ALTER TABLE tickets DROP CONSTRAINT tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('piece_upload', 'template_upload', 'piece_file', 'template', 'dossier', 'letter'));
