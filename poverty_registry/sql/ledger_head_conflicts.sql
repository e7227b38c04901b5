-- A registered head of a household in the file who is not among the file's rows for that household.
SELECT s.excel_row, p.name FROM ledger_stage s
  JOIN {household} h ON h.household_no = s.household_no
  JOIN {person} p ON p.household_id = h.id AND p.is_head
 WHERE s.is_head AND p.id_number <> s.id_number
   AND NOT EXISTS (SELECT 1 FROM ledger_stage o WHERE o.id_number = p.id_number)
