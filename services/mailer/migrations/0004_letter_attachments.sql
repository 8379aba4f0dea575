-- Attachments name the decision whose letter the documents service gives, no longer a bucket and
-- key of object storage (the mailer holds no storage credentials). Deliveries still to send are
-- rewritten: the letter's key is `lettres/<candidature>/<decision>.pdf`.
UPDATE deliveries d
   SET attachments = (
       SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'decision_id', split_part(split_part(a->>'key', '/', 3), '.', 1),
                  'filename', a->>'filename',
                  'content_type', coalesce(a->>'content_type', 'application/pdf'))), '[]'::jsonb)
         FROM jsonb_array_elements(d.attachments) a)
 WHERE d.status IN ('pending', 'sending')
   AND d.attachments <> '[]'::jsonb
   AND d.attachments->0 ? 'key';
