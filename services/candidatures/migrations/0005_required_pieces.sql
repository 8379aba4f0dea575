-- The required pieces of each candidature as `candidature.created` announced them, so that the
-- same facts can be given again to a service the event has not reached yet.
ALTER TABLE candidature_pieces
    ADD COLUMN code           text,
    ADD COLUMN ordre          int,
    ADD COLUMN conditionnelle boolean,
    ADD COLUMN has_template   boolean;
UPDATE candidature_pieces cp
   SET code = p.code, ordre = p.ordre, conditionnelle = p.conditionnelle, has_template = p.has_template
  FROM pieces p WHERE p.id = cp.piece_id;
