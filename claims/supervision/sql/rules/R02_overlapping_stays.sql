-- fragments: hit, persons_e, e_earlier_than_c
-- R02 住院时间重叠: ranges prefilter (inclusive ends), then the exact rule: each admitted before the other's
-- discharge.
SELECT c.id AS claim_id,
       jsonb_build_object('claims', jsonb_agg(e.id ORDER BY e.admission_date, e.claim_no COLLATE "C", e.id))
         AS evidence
FROM {claim} c JOIN {claim} e ON e.id_number = c.id_number AND e.id <> c.id
WHERE {hit} {persons_e} AND c.visit_type = 'inpatient' AND e.visit_type = 'inpatient'
  AND e.discharge_date > %(year_start)s::date AND e.admission_date <= %(year_end)s::date
  AND daterange(e.admission_date, e.discharge_date, '[]') && daterange(c.admission_date, c.discharge_date, '[]')
  AND e.admission_date < c.discharge_date AND c.admission_date < e.discharge_date
  AND {e_earlier_than_c}
GROUP BY c.id
