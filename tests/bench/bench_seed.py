"""seed_demo: persons written per second (COPY, audit triggers included)."""
import os

from tests.bench.harness import Entry, timed


def run() -> list[Entry]:
    from poverty_registry.audit.trail import audit_context
    from poverty_registry.demo import seed_persons

    persons = int(os.environ.get("BENCH_SEED_PERSONS", "300000"))
    with audit_context(source="bench"):
        result, seconds = timed(seed_persons, persons, 11)
    return [Entry("seed_demo persons/s", result.persons / seconds, "persons/s")]
