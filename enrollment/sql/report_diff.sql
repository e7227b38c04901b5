-- Today's lines against the frozen ones: persons added, removed, or with any figure changed.
SELECT coalesce(n.id_number, o.id_number), coalesce(n.name, o.name),
       CASE WHEN o.id IS NULL THEN 'added' WHEN n.id IS NULL THEN 'removed' ELSE 'changed' END,
       o.region_code, n.region_id, o.category, n.category, o.subsidy, n.subsidy, o.premium, n.premium,
       o.fund, n.fund, o.policy_version, pol.version
FROM (SELECT * FROM {subsidyreportline} WHERE report_id = %(report)s) o
FULL JOIN (SELECT * FROM {subsidyline} WHERE year = %(year)s AND region_id LIKE %(scope)s) n
     ON n.person_id = o.person_id
LEFT JOIN {subsidypolicy} pol ON pol.id = n.policy_id
WHERE o.id IS NULL OR n.id IS NULL
   OR (o.region_code, o.category, o.premium, o.subsidy, o.fund, o.policy_id)
      IS DISTINCT FROM (n.region_id, n.category, n.premium, n.subsidy, n.fund, n.policy_id)
ORDER BY 1
