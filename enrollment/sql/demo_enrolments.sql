-- Demo enrolments of the seeded persons for the years, paid in November or December before each year;
-- about unenrolled_per_mille of every thousand left unenrolled (for the chase list).
INSERT INTO {enrolment} (id_number, name, year, status, paid_date, region_id, person_id, updated_at)
SELECT p.id_number, p.name, y, 'enrolled', make_date(y - 1, 11 + (p.id %% 2)::int, 1 + (p.id %% 28)::int),
       p.region_id, p.id, now()
  FROM {person} p CROSS JOIN unnest(%(years)s::int[]) AS y
 WHERE abs(hashtext(p.id_number || y::text)) %% 1000 >= %(unenrolled_per_mille)s
ON CONFLICT (id_number, year) DO NOTHING
