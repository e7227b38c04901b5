-- or ends the day before if it started earlier;
UPDATE {personcategory} c SET valid_to = %(yesterday)s
  FROM ledger_stage s, {person} p
 WHERE p.id_number = s.id_number AND c.person_id = p.id AND c.source = 'ledger'
   AND c.valid_from < %(today)s AND (c.valid_to IS NULL OR c.valid_to >= %(today)s)
   AND NOT (c.category = ANY (string_to_array(coalesce(s.categories, ''), ',')))
