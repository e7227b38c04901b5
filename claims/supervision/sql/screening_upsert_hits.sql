-- fragments: found
-- Every hit the rules find (the fragment found: claim_id, evidence, rule, severity): inserted, or brought up to date and
-- active again; the first discovery time is kept.
INSERT INTO {screeninghit} (claim_id, rule, severity, evidence, year, region_id, status, found_at,
                            checked_at, resolved_at)
SELECT f.claim_id, f.rule, f.severity, f.evidence, c.year, c.region_id, 'active', %(now)s, %(now)s, NULL
FROM ({found}) f JOIN {claim} c ON c.id = f.claim_id
ON CONFLICT (claim_id, rule) DO UPDATE SET
  severity = EXCLUDED.severity, evidence = EXCLUDED.evidence, year = EXCLUDED.year,
  region_id = EXCLUDED.region_id, status = 'active', resolved_at = NULL, checked_at = EXCLUDED.checked_at
