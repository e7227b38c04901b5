-- The rate's test (enrolment_rates.sql) with the paid date of the enrolment found: the month by whose end the
-- person was enrolled (paid before the year, or no date known: January; 0: not enrolled), for the dashboard.
SELECT month, count(*) FROM (
    SELECT CASE WHEN e.person_id IS NULL AND f.found IS NULL THEN 0
                WHEN coalesce(e.paid_date, f.paid_date) IS NULL OR coalesce(e.paid_date, f.paid_date) < %(jan1)s
                    THEN 1
                ELSE least(12, extract(month FROM coalesce(e.paid_date, f.paid_date))::int
                               + 12 * (extract(year FROM coalesce(e.paid_date, f.paid_date))::int - %(year)s)) END
    FROM {person} p
    LEFT JOIN {enrolment} e ON e.person_id = p.id AND e.person_id IS NOT NULL AND e.year = %(year)s
         AND e.status = 'enrolled'
    LEFT JOIN LATERAL (
        SELECT true AS found, e2.paid_date FROM {enrolment} e2
        WHERE e.person_id IS NULL AND e2.id_number = p.id_number AND e2.year = %(year)s AND e2.status = 'enrolled'
        LIMIT 1) f ON true
    WHERE p.region_id LIKE %(scope)s AND (p.death_date IS NULL OR p.death_date >= %(jan1)s)) AS persons (month)
GROUP BY month
