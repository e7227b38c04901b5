-- The village → policy map first (a few hundred rows), so persons join it by equality: the policy whose
-- region is the longest prefix of the village's code.
CREATE TEMP TABLE village_policy ON COMMIT DROP AS
SELECT DISTINCT ON (r.code) r.code AS region_id, pol.id AS policy_id, pol.cutoff_date
FROM {region} r
JOIN {subsidypolicy} pol ON pol.year = %(year)s AND pol.in_force AND r.code LIKE pol.region_id || '%%'
WHERE r.level = 5 AND r.code LIKE %(scope)s
ORDER BY r.code, length(pol.region_id) DESC
