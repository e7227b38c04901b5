-- a listed one not held starts today. The categories held are read once, before the insert: an anti-join
-- against the table being filled would rescan its growing heap for every row when the statistics say it is
-- (nearly) empty.
WITH held AS MATERIALIZED (
  SELECT c.person_id, c.category FROM {personcategory} c
    JOIN {person} p ON p.id = c.person_id JOIN ledger_stage s ON s.id_number = p.id_number
   WHERE c.valid_to IS NULL OR c.valid_to >= %(today)s
)
INSERT INTO {personcategory} (person_id, category, valid_from, valid_to, source)
SELECT p.id, listed.category, %(today)s, NULL, 'ledger'
  FROM ledger_stage s JOIN {person} p ON p.id_number = s.id_number
 CROSS JOIN LATERAL unnest(string_to_array(s.categories, ',')) AS listed(category)
 WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.person_id = p.id AND h.category = listed.category)
