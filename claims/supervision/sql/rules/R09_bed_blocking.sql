-- fragments: hit
-- R09 挂床住院: a long stay whose average daily cost is below the floor.
SELECT c.id AS claim_id,
       jsonb_build_object('days', c.discharge_date - c.admission_date,
                          'avg_daily_cost', trunc(c.total_cost / (c.discharge_date - c.admission_date), 2),
                          'daily_floor', %(p_floor)s::numeric) AS evidence
FROM {claim} c
WHERE {hit} AND c.visit_type = 'inpatient' AND c.discharge_date - c.admission_date > %(p_days)s::int
  AND c.total_cost < %(p_floor)s::numeric * (c.discharge_date - c.admission_date)
