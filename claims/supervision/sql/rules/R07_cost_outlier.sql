-- fragments: hit, groups
-- R07 费用异常偏高: total cost above k times the median of its (hospital level, 3-character diagnosis) group.
SELECT c.id AS claim_id,
       jsonb_build_object('median', g.median, 'group_size', g.n, 'k', %(p_k)s::numeric,
                          'threshold', round(%(p_k)s::numeric * g.median, 2)) AS evidence
FROM {claim} c JOIN ({groups}) g ON g.hospital_level = c.hospital_level AND g.d3 = upper(left(c.diagnosis, 3))
WHERE {hit} AND c.total_cost > %(p_k)s::numeric * g.median
