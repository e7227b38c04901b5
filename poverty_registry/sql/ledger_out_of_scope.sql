-- Rows whose person or household is registered outside the uploader's region: not theirs to change.
SELECT s.excel_row, 'person', p.region_id FROM ledger_stage s
  JOIN {person} p ON p.id_number = s.id_number WHERE p.region_id NOT LIKE %(prefix)s
UNION ALL
SELECT s.excel_row, 'household', h.region_id FROM ledger_stage s
  JOIN {household} h ON h.household_no = s.household_no WHERE h.region_id NOT LIKE %(prefix)s
