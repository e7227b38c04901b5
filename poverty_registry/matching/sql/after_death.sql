-- What a confirmed death cancels: the person's enrolments and subsidy lines of the years after the year of death
-- (the enrolment and subsidy tables named by placeholder: matching stays below enrollment).
SELECT (SELECT count(*) FROM {enrolment}
        WHERE (person_id = %(person)s OR id_number = %(number)s) AND year > %(year)s AND status = 'enrolled'),
       (SELECT count(*) FROM {subsidyline} WHERE person_id = %(person)s AND year > %(year)s),
       (SELECT coalesce(sum(subsidy), 0) FROM {subsidyline} WHERE person_id = %(person)s AND year > %(year)s)
