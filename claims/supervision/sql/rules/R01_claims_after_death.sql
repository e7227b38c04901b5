-- fragments: hit
-- R01 死亡后就医: admitted or discharged after the person's death date.
SELECT c.id AS claim_id, jsonb_build_object('death_date', p.death_date, 'person_id', p.id) AS evidence
FROM {claim} c JOIN {person} p ON p.id_number = c.id_number
WHERE {hit} AND p.death_date IS NOT NULL
  AND (c.admission_date > p.death_date OR c.discharge_date > p.death_date)
