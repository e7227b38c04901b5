-- fragments: hit, persons_c, e_earlier_than_a
-- R08 频繁住院: the admission's place among the person's admissions in the window ending on its admission day:
-- a RANGE frame counts the whole day, minus the same-day admissions that come after it.
SELECT a.id AS claim_id,
       jsonb_build_object('admissions', a.place, 'claims', (
         SELECT jsonb_agg(e.id ORDER BY e.admission_date, e.claim_no COLLATE "C", e.id)
         FROM {claim} e
         WHERE e.id_number = a.id_number AND e.visit_type = 'inpatient'
           AND e.admission_date BETWEEN a.admission_date - (%(p_window)s::int - 1) AND a.admission_date
           AND {e_earlier_than_a})) AS evidence
FROM (
  SELECT c.id, c.id_number, c.admission_date, c.claim_no, ({hit}) AS target,
         count(*) OVER (PARTITION BY c.id_number ORDER BY c.admission_date
                        RANGE BETWEEN make_interval(days => %(p_window)s::int - 1) PRECEDING AND CURRENT ROW)
         - count(*) OVER (PARTITION BY c.id_number, c.admission_date)
         + row_number() OVER (PARTITION BY c.id_number, c.admission_date
                              ORDER BY c.claim_no COLLATE "C", c.id) AS place
  FROM {claim} c
  WHERE c.visit_type = 'inpatient' {persons_c}
    AND c.admission_date BETWEEN %(year_start)s::date - (%(p_window)s::int - 1) AND %(year_end)s::date
) a
WHERE a.target AND a.place > %(p_max)s::int
