-- fragments: hit
-- R05 未参保结算: no enrolment of the claim's year in one of the statuses that count as enrolled.
SELECT c.id AS claim_id, jsonb_build_object('enrolment_id', e.id, 'enrolment_status', e.status) AS evidence
FROM {claim} c LEFT JOIN {enrolment} e ON e.id_number = c.id_number AND e.year = c.year
WHERE {hit} AND (e.id IS NULL OR NOT e.status = ANY(%(p_statuses)s))
