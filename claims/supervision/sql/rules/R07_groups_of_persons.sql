-- R07's groups for a few persons: only their groups, each read through the (year, level, diagnosis) index;
-- the median as in R07_groups_of_year.
SELECT pg.hospital_level, pg.d3, s.n, s.median
FROM (SELECT DISTINCT m.hospital_level, upper(left(m.diagnosis, 3)) AS d3 FROM {claim} m
      WHERE m.year = %(year)s AND m.id_number = ANY(%(persons)s)) pg
CROSS JOIN LATERAL (
  SELECT count(*) AS n, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY g.total_cost))::numeric, 3) AS median
  FROM {claim} g
  WHERE g.year = %(year)s AND g.hospital_level = pg.hospital_level AND upper(left(g.diagnosis, 3)) = pg.d3) s
WHERE s.n >= %(p_min)s::int
