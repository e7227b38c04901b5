-- Registered (alive on 1 January, in scope) and enrolled per village. "Enrolled": an enrolment of the year
-- through the person link, else by ID number; the fallback is a CASE branch, evaluated only for persons
-- without a linked enrolment and without a LATERAL node re-run for each of the county's persons.
SELECT p.region_id, count(*), count(*) FILTER (WHERE CASE WHEN e.person_id IS NOT NULL THEN true ELSE EXISTS (
    SELECT FROM {enrolment} e2
    WHERE e2.id_number = p.id_number AND e2.year = %(year)s AND e2.status = 'enrolled') END)
FROM {person} p
LEFT JOIN {enrolment} e ON e.person_id = p.id AND e.person_id IS NOT NULL AND e.year = %(year)s
     AND e.status = 'enrolled'
WHERE p.region_id LIKE %(scope)s AND (p.death_date IS NULL OR p.death_date >= %(jan1)s)
GROUP BY p.region_id
