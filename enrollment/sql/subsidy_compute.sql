-- The one INSERT … SELECT of the computation: the most favourable category held on the cut-off date, once
-- per person alive on it, then only the enrolled. Choosing first probes the enrolment index once per
-- person instead of once per category held.
INSERT INTO subsidy_new (person_id, id_number, name, region_id, category, premium, subsidy, fund, policy_id)
SELECT best.* FROM (
  SELECT DISTINCT ON (p.id) p.id, p.id_number, p.name, p.region_id, sr.category, sr.premium, sr.subsidy, sr.fund,
         vp.policy_id
  FROM {person} p
  JOIN village_policy vp ON vp.region_id = p.region_id
  JOIN {personcategory} c ON c.person_id = p.id AND c.valid_from <= vp.cutoff_date
       AND (c.valid_to IS NULL OR c.valid_to >= vp.cutoff_date)
  JOIN subsidy_rule sr ON sr.policy_id = vp.policy_id AND sr.category = c.category
  WHERE (p.death_date IS NULL OR p.death_date >= vp.cutoff_date)
  ORDER BY p.id, sr.subsidy DESC, sr.rank) best
WHERE EXISTS (SELECT FROM {enrolment} e
              WHERE e.id_number = best.id_number AND e.year = %(year)s AND e.status = 'enrolled')
