-- Households: new ones created, a moved one follows its village.
INSERT INTO {household} (household_no, region_id, created_at, updated_at)
SELECT DISTINCT ON (household_no) household_no, village_code, now(), now() FROM ledger_stage
 ORDER BY household_no, is_head DESC, excel_row
ON CONFLICT (household_no) DO UPDATE SET region_id = EXCLUDED.region_id, updated_at = now()
 WHERE {household}.region_id IS DISTINCT FROM EXCLUDED.region_id
