-- A ticket for the letter of one decision, handed to the mailer (which attaches it to that
-- decision's mail) rather than to a person: no principal in its payload.
ALTER TABLE tickets DROP CONSTRAINT tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('piece_upload', 'template_upload', 'piece_file', 'template', 'dossier', 'letter', 'decision_letter'));
