-- Heads stepping down first, so the one-head-per-household index never sees two.
UPDATE {person} p SET is_head = false, updated_at = now()
  FROM ledger_stage s WHERE s.id_number = p.id_number AND p.is_head AND NOT s.is_head
