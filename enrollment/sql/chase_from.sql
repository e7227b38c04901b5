-- fragments: status_filter
-- The chase list's rows: registered persons in scope (alive on 1 January) with no enrolment of the year,
-- with the township's work status. Only indexed columns of e are read (enrolment_year_person_enrolled is
-- then read index-only); the LATERAL probe by ID number runs, behind its one-time filter, only for persons
-- without a linked enrolment.
FROM {person} p
LEFT JOIN {enrolment} e ON e.person_id = p.id AND e.person_id IS NOT NULL AND e.year = %(year)s
     AND e.status = 'enrolled'
LEFT JOIN LATERAL (
    SELECT true AS found FROM {enrolment} e2
    WHERE e.person_id IS NULL AND e2.id_number = p.id_number AND e2.year = %(year)s AND e2.status = 'enrolled'
    LIMIT 1) f ON true
LEFT JOIN {chaseentry} c ON c.person_id = p.id AND c.year = %(year)s
LEFT JOIN {user} u ON u.id = c.updated_by_id
WHERE p.region_id LIKE %(scope)s AND (p.death_date IS NULL OR p.death_date >= %(jan1)s)
  AND e.person_id IS NULL AND f.found IS NULL {status_filter}
