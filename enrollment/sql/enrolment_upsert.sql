-- The staged rows upserted, linked to their ledger person; a row changes only when something in it changed.
-- xmax = 0 marks a row the INSERT created; an updated row carries the updating transaction's id.
WITH upserted AS (
  INSERT INTO {enrolment} (id_number, name, year, status, paid_date, region_id, person_id, updated_at)
  SELECT s.id_number, s.name, s.year, s.status, s.paid_date, s.region_id, p.id, now()
  FROM enrolment_staging s LEFT JOIN {person} p ON p.id_number = s.id_number
  ON CONFLICT (id_number, year) DO UPDATE SET
    name = EXCLUDED.name, status = EXCLUDED.status, paid_date = EXCLUDED.paid_date,
    region_id = EXCLUDED.region_id, person_id = EXCLUDED.person_id, updated_at = EXCLUDED.updated_at
  WHERE ({enrolment}.name, {enrolment}.status, {enrolment}.paid_date,
         {enrolment}.region_id, {enrolment}.person_id)
        IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.status, EXCLUDED.paid_date, EXCLUDED.region_id, EXCLUDED.person_id)
  RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM upserted
