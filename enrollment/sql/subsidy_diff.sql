-- The difference, found once: the change records and the writes to the lines are all read from it.
-- The old lines are those in scope, and those of persons now computed in scope (moved in).
CREATE TEMP TABLE subsidy_diff ON COMMIT DROP AS
SELECT CASE WHEN o.id IS NULL THEN 'added' WHEN n.person_id IS NULL THEN 'removed' ELSE 'changed' END AS kind,
       o.id AS line_id, coalesce(n.person_id, o.person_id) AS person_id,
       coalesce(n.id_number, o.id_number) AS id_number, coalesce(n.name, o.name) AS name,
       coalesce(n.region_id, o.region_id) AS region_id, coalesce(o.region_id, '') AS old_region,
       coalesce(o.category, '') AS old_category, coalesce(n.category, '') AS new_category,
       o.subsidy AS old_subsidy, n.subsidy AS new_subsidy, o.policy_id AS old_policy, n.policy_id AS new_policy,
       n.premium, n.fund
FROM subsidy_new n FULL JOIN (
  SELECT * FROM {subsidyline}
  WHERE year = %(year)s AND (region_id LIKE %(scope)s OR person_id IN (SELECT person_id FROM subsidy_new))
) o ON o.person_id = n.person_id
WHERE o.id IS NULL OR n.person_id IS NULL
   OR (o.category, o.premium, o.subsidy, o.fund, o.policy_id, o.region_id)
      IS DISTINCT FROM (n.category, n.premium, n.subsidy, n.fund, n.policy_id, n.region_id)
ORDER BY 3
