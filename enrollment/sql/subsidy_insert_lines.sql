-- A person found 'added' has no line for the year (the run holds the year's lock and only the computation
-- writes lines), so a plain INSERT: cheaper than ON CONFLICT's speculative insertion.
INSERT INTO {subsidyline} (person_id, id_number, name, year, category, premium, subsidy, fund,
                           policy_id, region_id, computed_at)
SELECT person_id, id_number, name, %(year)s, new_category, premium, new_subsidy, fund, new_policy, region_id, %(now)s
FROM subsidy_diff WHERE kind = 'added'
