-- The year's subsidy lines in the report's region copied into the report, with their policy's version.
INSERT INTO {subsidyreportline} (report_id, person_id, id_number, name, region_code, category, premium,
                                 subsidy, fund, policy_id, policy_version)
SELECT %(report)s, l.person_id, l.id_number, l.name, l.region_id, l.category, l.premium, l.subsidy, l.fund,
       l.policy_id, pol.version
FROM {subsidyline} l JOIN {subsidypolicy} pol ON pol.id = l.policy_id
WHERE l.year = %(year)s AND l.region_id LIKE %(scope)s
