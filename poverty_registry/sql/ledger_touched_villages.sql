-- The villages a file touches: those it names, and those its persons and households are registered in now
-- (a person moving from village X is X's change too).
SELECT DISTINCT hashtext(v) FROM (
  SELECT village_code FROM ledger_stage
  UNION SELECT p.region_id FROM ledger_stage s JOIN {person} p ON p.id_number = s.id_number
  UNION SELECT h.region_id FROM ledger_stage s JOIN {household} h ON h.household_no = s.household_no
) AS touched(v)
