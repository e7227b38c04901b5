-- The claims of the person-years (arrays of ID numbers and years) with their current settlement version.
SELECT c.id, c.claim_no, c.hospital_level, c.in_county, c.visit_type, c.referral, c.admission_date,
       c.discharge_date, c.diagnosis, c.total_cost, c.uncovered_cost, c.id_number, c.year, c.region_id, c.name,
       c.person_id, s.version, s.id, s.digest,
       s.basic + s.critical + s.assistance + s.hospital_waiver + s.special_insurance + s.backstop,
       c.status = 'settled'
FROM {claim} c
JOIN unnest(%s::text[], %s::int[]) AS k(id_number, year) ON c.id_number = k.id_number AND c.year = k.year
LEFT JOIN {settlement} s ON s.claim_id = c.id AND s.is_current
