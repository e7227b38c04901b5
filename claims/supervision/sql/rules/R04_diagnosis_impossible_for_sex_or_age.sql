-- fragments: hit, male, female, infant
-- R04 诊断与性别年龄不符: the fragments male, female and infant test d3 against the configured code ranges.
-- Sex and birth date from the ledger when the person is registered, else from the ID number itself
-- (odd 17th digit = male); make_date(y, m, 1) + (d - 1) never raises on a malformed day.
SELECT id AS claim_id,
       jsonb_build_object('sex', sex, 'birth_date', birth_date, 'diagnosis', d3,
                          'reason', CASE WHEN sex = 'M' AND {male} THEN 'male'
                                         WHEN sex = 'F' AND {female} THEN 'female' ELSE 'age' END) AS evidence
FROM (SELECT c.id, c.admission_date, upper(left(c.diagnosis, 3)) COLLATE "C" AS d3,
             coalesce(p.sex, CASE WHEN substr(c.id_number, 17, 1) ~ '^[0-9]$'
                                  THEN CASE WHEN substr(c.id_number, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END
                             END) AS sex,
             coalesce(p.birth_date,
                      CASE WHEN c.id_number ~ '^[0-9]{17}[0-9X]$' AND substr(c.id_number, 7, 4)::int >= 1800
                                AND substr(c.id_number, 11, 2) BETWEEN '01' AND '12'
                                AND substr(c.id_number, 13, 2) BETWEEN '01' AND '31'
                           THEN make_date(substr(c.id_number, 7, 4)::int, substr(c.id_number, 11, 2)::int, 1)
                                + (substr(c.id_number, 13, 2)::int - 1) END) AS birth_date
      FROM {claim} c LEFT JOIN {person} p ON p.id_number = c.id_number
      WHERE {hit}) s
WHERE (sex = 'M' AND {male}) OR (sex = 'F' AND {female})
   OR ({infant} AND birth_date + make_interval(years => %(p_infant_years)s::int) <= admission_date)
