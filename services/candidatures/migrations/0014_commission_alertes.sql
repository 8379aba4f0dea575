-- A commission's mailbox and what it asks to be told of by mail as its candidatures change
-- (`transmission`, `annulation`, `desistement`, `promotion`): the reference system's alerts to
-- the commission. None by default: a commission chooses them in the offer's administration.
ALTER TABLE commissions
    ADD COLUMN email text,
    ADD COLUMN alertes text[] NOT NULL DEFAULT '{}'
        CHECK (alertes <@ ARRAY['transmission', 'annulation', 'desistement', 'promotion']::text[]),
    -- Alerts go to the commission's mailbox: none without one (the API says so in French).
    ADD CONSTRAINT commissions_alertes_need_email CHECK (email IS NOT NULL OR alertes = '{}');
