-- The run's change records, one per person added, changed or removed.
INSERT INTO {subsidychange} (run_id, person_id, id_number, name, kind, region_id, old_region,
    old_category, new_category, old_subsidy, new_subsidy, old_policy, new_policy)
SELECT %(run)s, person_id, id_number, name, kind, region_id, old_region, old_category, new_category, old_subsidy,
       new_subsidy, old_policy, new_policy
FROM subsidy_diff
