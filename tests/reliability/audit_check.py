"""The check every fault test ends with: the audit trail's chains verify (records and journal)."""
from __future__ import annotations


def assert_audit_verifies() -> None:
    from poverty_registry.audit.trail import spread_journal, verify_chain, verify_journal

    spread_journal()  # what beat would do: entries committed by bulk writes become records
    checked, broken = verify_chain()
    entries, broken_entry = verify_journal()
    assert broken is None, f"audit chain broken at record {broken} of {checked}"
    assert broken_entry is None, f"audit journal broken at entry {broken_entry} of {entries}"
