-- What a confirmed death cancels: the person's enrolments and subsidy lines of the years after the year of death
-- (read through the views enrollment defines for the matching, README "Layout": matching stays below enrollment).
SELECT (SELECT count(*) FROM enrolments_for_matching
        WHERE (person_id = %(person)s OR id_number = %(number)s) AND year > %(year)s AND status = 'enrolled'),
       (SELECT count(*) FROM subsidy_lines_for_matching WHERE person_id = %(person)s AND year > %(year)s),
       (SELECT coalesce(sum(subsidy), 0) FROM subsidy_lines_for_matching WHERE person_id = %(person)s AND year > %(year)s)
