-- Mails kept for their recipient's daily summary instead of being sent one by one (a commission
-- whose alerts are `quotidienne`): the job `mailer.daily-summaries` renders one summary per
-- recipient from them and deletes them in the same transaction as it queues it.
CREATE TABLE held_mails (
    event_id    uuid NOT NULL,
    idx         int NOT NULL,
    recipient   text NOT NULL,
    template    text NOT NULL,
    context     jsonb NOT NULL,
    held_at     timestamptz NOT NULL,
    PRIMARY KEY (event_id, idx)
);
CREATE INDEX held_mails_due ON held_mails (held_at);
