-- Persons: new ones created; a registered one updated only where the file changes something (an empty
-- status or phone in the file keeps the ledger's).
INSERT INTO {person} (id_number, name, sex, birth_date, household_id, relation, is_head,
                                     region_id, poverty_status, phone, created_at, updated_at)
SELECT s.id_number, s.name, s.sex, s.birth_date, h.id, s.relation, s.is_head, s.village_code,
       coalesce(s.status, ''), coalesce(s.phone, ''), now(), now()
  FROM ledger_stage s JOIN {household} h ON h.household_no = s.household_no
ON CONFLICT (id_number) DO UPDATE SET
    name = EXCLUDED.name, household_id = EXCLUDED.household_id, relation = EXCLUDED.relation,
    is_head = EXCLUDED.is_head, region_id = EXCLUDED.region_id,
    poverty_status = CASE WHEN EXCLUDED.poverty_status = '' THEN {person}.poverty_status
                          ELSE EXCLUDED.poverty_status END,
    phone = CASE WHEN EXCLUDED.phone = '' THEN {person}.phone ELSE EXCLUDED.phone END,
    updated_at = now()
 WHERE ({person}.name, {person}.household_id, {person}.relation,
        {person}.is_head, {person}.region_id)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.household_id, EXCLUDED.relation, EXCLUDED.is_head,
                         EXCLUDED.region_id)
    OR (EXCLUDED.poverty_status <> '' AND EXCLUDED.poverty_status <> {person}.poverty_status)
    OR (EXCLUDED.phone <> '' AND EXCLUDED.phone <> {person}.phone)
