-- fragments: hit, persons_e, e_earlier_than_c
-- R06 重复结算单: same person, hospital, admission and discharge dates and total cost under another number.
SELECT c.id AS claim_id,
       jsonb_build_object('claims', jsonb_agg(e.id ORDER BY e.claim_no COLLATE "C", e.id)) AS evidence
FROM {claim} c JOIN {claim} e
  ON e.id_number = c.id_number AND e.hospital_id = c.hospital_id AND e.admission_date = c.admission_date
 AND e.discharge_date = c.discharge_date AND e.total_cost = c.total_cost AND e.id <> c.id
WHERE {hit} {persons_e} AND {e_earlier_than_c}
  AND e.year = %(year)s  -- implied (same admission date), stated so that only the year's claims are joined
GROUP BY c.id
