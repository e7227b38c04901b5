-- Hospitals by 医疗机构编码 from the staged file: created, or name and level updated when they change.
INSERT INTO {hospital} (code, name, level, region_id)
SELECT code, name, level, region_id FROM hospital_stage
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level
WHERE ({hospital}.name, {hospital}.level) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level)
