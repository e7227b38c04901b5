-- fragments: hit, persons_e, e_earlier_than_c
-- R03 分解住院: readmitted to the same hospital with the same 3-character diagnosis within p_days of a discharge.
SELECT c.id AS claim_id,
       jsonb_build_object('claims', jsonb_agg(e.id ORDER BY e.admission_date, e.claim_no COLLATE "C", e.id),
                          'days_after_discharge', min(c.admission_date - e.discharge_date)) AS evidence
FROM {claim} c JOIN {claim} e
  ON e.id_number = c.id_number AND e.hospital_id = c.hospital_id AND e.id <> c.id
 AND upper(left(e.diagnosis, 3)) = upper(left(c.diagnosis, 3))
WHERE {hit} {persons_e} AND c.visit_type = 'inpatient' AND e.visit_type = 'inpatient'
  AND e.discharge_date >= %(year_start)s::date - %(p_days)s::int
  -- implied (e ends before c begins), stated so that claims of later years are not joined at all
  AND e.admission_date <= %(year_end)s::date
  AND c.admission_date - e.discharge_date BETWEEN 0 AND %(p_days)s::int
  AND {e_earlier_than_c}
GROUP BY c.id
