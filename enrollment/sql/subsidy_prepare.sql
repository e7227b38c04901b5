-- The computation's working tables: the rules of the policies in force (COPYed in) and the lines computed.
DROP TABLE IF EXISTS subsidy_rule, subsidy_new, subsidy_diff, village_policy;
CREATE TEMP TABLE subsidy_rule (policy_id bigint, category text, rank int, premium numeric(14,2),
                                subsidy numeric(14,2), fund text) ON COMMIT DROP;
CREATE TEMP TABLE subsidy_new (person_id bigint, id_number text, name text, region_id text,
                               category text, premium numeric(14,2), subsidy numeric(14,2), fund text,
                               policy_id bigint) ON COMMIT DROP;
