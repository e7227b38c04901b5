-- fragments: hits
-- The hits of these rules, year (and persons: the fragment hits) the run did not find again: deleted, or resolved when
-- a case refers to them (the case keeps its evidence).
WITH stale AS (
  SELECT h.id, EXISTS (SELECT 1 FROM {casehit} ch WHERE ch.hit_id = h.id) AS in_case
  FROM {hits}
  WHERE h.rule = ANY(%(rules)s) AND h.year = %(year)s AND h.checked_at < %(now)s
), gone AS (
  DELETE FROM {screeninghit} h USING stale s WHERE h.id = s.id AND NOT s.in_case RETURNING h.id
)
UPDATE {screeninghit} h SET status = 'resolved', resolved_at = %(now)s
FROM stale s WHERE h.id = s.id AND s.in_case AND h.status = 'active'
