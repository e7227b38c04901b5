-- Categories as of the import date (§4.5): a ledger category no longer listed disappears if it only started today,
DELETE FROM {personcategory} c USING ledger_stage s, {person} p
 WHERE p.id_number = s.id_number AND c.person_id = p.id AND c.source = 'ledger'
   AND c.valid_from = %(today)s AND NOT (c.category = ANY (string_to_array(coalesce(s.categories, ''), ',')))
