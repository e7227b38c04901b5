-- R07's groups: (hospital level, 3-character diagnosis) of the year with at least p_min claims and their median.
-- percentile_cont works in double precision; a median of amounts in cents is exact to 3 decimals.
SELECT g.hospital_level, upper(left(g.diagnosis, 3)) AS d3, count(*) AS n,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY g.total_cost))::numeric, 3) AS median
FROM {claim} g WHERE g.year = %(year)s
GROUP BY 1, 2 HAVING count(*) >= %(p_min)s::int
