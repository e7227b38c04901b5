-- What the writes (ledger_upsert_*, ledger_categories_*) will do, counted without writing (the preview):
-- the same conditions.
WITH matched AS (
  SELECT s.*, p.id AS person_id, p.name AS old_name, p.relation AS old_relation, p.is_head AS old_is_head,
         p.region_id AS old_region, p.poverty_status AS old_status, p.phone AS old_phone,
         h.household_no AS old_household_no
    FROM ledger_stage s
    LEFT JOIN {person} p ON p.id_number = s.id_number
    LEFT JOIN {household} h ON h.id = p.household_id
),
ending AS (  -- ledger categories held today that the file no longer lists
  SELECT m.person_id FROM matched m JOIN {personcategory} c ON c.person_id = m.person_id
   WHERE %(with_categories)s AND c.source = 'ledger' AND c.valid_from <= %(today)s
     AND (c.valid_to IS NULL OR c.valid_to >= %(today)s)
     AND NOT (c.category = ANY (string_to_array(coalesce(m.categories, ''), ',')))
),
starting AS (  -- listed categories the person does not hold from today on
  SELECT m.person_id FROM matched m CROSS JOIN LATERAL unnest(string_to_array(m.categories, ',')) AS listed(category)
    LEFT JOIN {personcategory} c
           ON c.person_id = m.person_id AND c.category = listed.category
          AND (c.valid_to IS NULL OR c.valid_to >= %(today)s)
   WHERE %(with_categories)s AND m.person_id IS NOT NULL AND c.id IS NULL
),
category_changed AS (SELECT person_id FROM ending UNION SELECT person_id FROM starting),
household_changes AS (  -- households ledger_upsert_households.sql would create or move
  SELECT count(*) AS n
    FROM (SELECT DISTINCT ON (household_no) household_no, village_code FROM ledger_stage
           ORDER BY household_no, is_head DESC, excel_row) s
    LEFT JOIN {household} h ON h.household_no = s.household_no
   WHERE h.id IS NULL OR h.region_id IS DISTINCT FROM s.village_code
)
SELECT
  count(*) FILTER (WHERE m.person_id IS NULL) AS created,
  count(*) FILTER (WHERE m.person_id IS NOT NULL AND (
      (m.old_name, m.old_relation, m.old_is_head, m.old_region, m.old_household_no) IS DISTINCT FROM
      (m.name, m.relation, m.is_head, m.village_code, m.household_no)
      OR (m.status IS NOT NULL AND m.status IS DISTINCT FROM m.old_status)
      OR (m.phone IS NOT NULL AND m.phone IS DISTINCT FROM m.old_phone)
      OR cc.person_id IS NOT NULL)
  ) AS updated,
  (SELECT n FROM household_changes) AS households_changed
FROM matched m LEFT JOIN category_changed cc ON cc.person_id = m.person_id
