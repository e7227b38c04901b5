-- The persons prepare_resettle picks (a claim of the year in the region) and every claim of theirs in the year
-- (settle_person_years re-runs whole person-years, wherever the other claims were treated).
SELECT count(DISTINCT c.id_number), count(*),
       coalesce(sum(s.basic + s.critical + s.assistance + s.hospital_waiver + s.special_insurance + s.backstop), 0)
FROM {claim} c LEFT JOIN {settlement} s ON s.claim_id = c.id AND s.is_current
WHERE c.year = %(year)s AND c.id_number IN (
    SELECT id_number FROM {claim} WHERE year = %(year)s AND region_id LIKE %(scope)s)
