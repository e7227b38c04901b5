-- SHA-256 over the report's lines ordered by ID number, joined by line breaks; each line
-- 身份证号|参保年度|类别代码|个人缴费|资助金额|资金来源|村（社区）代码|政策ID:版本, as reports.line_text() writes it.
SELECT encode(sha256(convert_to(coalesce(string_agg(
    l.id_number || '|' || r.year || '|' || l.category || '|' || l.premium::text || '|' || l.subsidy::text || '|'
    || l.fund || '|' || l.region_code || '|' || l.policy_id || ':' || l.policy_version,
    E'\n' ORDER BY l.id_number), ''), 'UTF8')), 'hex')
FROM {subsidyreportline} l JOIN {subsidyreport} r ON r.id = l.report_id
WHERE l.report_id = %s
