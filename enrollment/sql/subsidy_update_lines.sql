UPDATE {subsidyline} l SET
    id_number = d.id_number, name = d.name, category = d.new_category, premium = d.premium,
    subsidy = d.new_subsidy, fund = d.fund, policy_id = d.new_policy, region_id = d.region_id, computed_at = %(now)s
FROM subsidy_diff d WHERE d.kind = 'changed' AND l.id = d.line_id
