-- The staged claims upserted (only an unsettled claim is replaced), with the person-years they touch: those
-- written (created: xmax = 0) and those of the claims they replaced.
WITH old AS (
  SELECT c.id, c.id_number, c.year FROM {claim} c JOIN {hospital} h ON h.id = c.hospital_id
  JOIN claim_stage s ON s.hospital_code = h.code AND s.claim_no = c.claim_no
), upserted AS (
  INSERT INTO {claim} (hospital_id, claim_no, hospital_level, in_county, referral, visit_type, id_number, name,
                       person_id, admission_date, discharge_date, diagnosis, total_cost, uncovered_cost, year,
                       region_id, status, received_at)
  SELECT h.id, s.claim_no, s.hospital_level, s.in_county, s.referral, s.visit_type, s.id_number, s.name,
         s.person_id, s.admission_date, s.discharge_date, s.diagnosis, s.total_cost, s.uncovered_cost, s.year,
         s.region_id, 'unsettled', now()
  FROM claim_stage s JOIN {hospital} h ON h.code = s.hospital_code
  ON CONFLICT (hospital_id, claim_no) DO UPDATE SET
    hospital_level = EXCLUDED.hospital_level, in_county = EXCLUDED.in_county, referral = EXCLUDED.referral,
    visit_type = EXCLUDED.visit_type, id_number = EXCLUDED.id_number, name = EXCLUDED.name,
    person_id = EXCLUDED.person_id, admission_date = EXCLUDED.admission_date,
    discharge_date = EXCLUDED.discharge_date, diagnosis = EXCLUDED.diagnosis, total_cost = EXCLUDED.total_cost,
    uncovered_cost = EXCLUDED.uncovered_cost, year = EXCLUDED.year, region_id = EXCLUDED.region_id,
    received_at = EXCLUDED.received_at
  WHERE {claim}.status = 'unsettled'
    AND ({claim}.hospital_level, {claim}.in_county, {claim}.referral, {claim}.visit_type, {claim}.id_number,
         {claim}.name, {claim}.person_id, {claim}.admission_date, {claim}.discharge_date, {claim}.diagnosis,
         {claim}.total_cost, {claim}.uncovered_cost, {claim}.year, {claim}.region_id)
        IS DISTINCT FROM (EXCLUDED.hospital_level, EXCLUDED.in_county, EXCLUDED.referral, EXCLUDED.visit_type,
                          EXCLUDED.id_number, EXCLUDED.name, EXCLUDED.person_id, EXCLUDED.admission_date,
                          EXCLUDED.discharge_date, EXCLUDED.diagnosis, EXCLUDED.total_cost, EXCLUDED.uncovered_cost,
                          EXCLUDED.year, EXCLUDED.region_id)
  RETURNING xmax = 0 AS created, id_number, year
)
SELECT created, id_number, year FROM upserted
UNION ALL SELECT NULL, id_number, year FROM old
