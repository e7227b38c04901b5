"""Build demo households and persons at scale (COPY, set-based), their enrolments, subsidies and claims. In claims,
the top app: it calls every app's demo builders."""
import json
import time

from django.core.management.base import BaseCommand, CommandError

from poverty_registry.audit.trail import audit_context, spread_journal
from poverty_registry.demo import seed_persons


class Command(BaseCommand):
    help = "生成演示数据：建档立卡户、人员（有效身份证号）及人员类别"

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, persons, seed, **options):
        started = time.perf_counter()
        try:
            with audit_context(source="seed_demo"):
                result = seed_persons(persons, seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - started
        summary = {"households": result.households, "persons": result.persons,
                   "categories": result.categories, "seconds": round(seconds, 2),
                   "persons_per_second": round(result.persons / seconds, 1) if seconds else None}
        summary.update(_seed_enrolments())
        summary.update(_seed_claims(seed))
        summary["audit_records_spread"] = spread_journal()  # the demo's trail complete before anyone looks
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(f"已生成 {result.households} 户、{result.persons} 人、{result.categories} 条类别，"
                              f"用时 {seconds:.1f} 秒")


def _seed_enrolments() -> dict:
    """Enrolments of the demo persons for last year and this year, and this year's subsidies."""
    from django.utils import timezone

    from enrollment.demo import seed_enrolments
    from enrollment.services import ensure_default_policies
    from enrollment.subsidies import compute_subsidies

    year = timezone.localdate().year
    with audit_context(source="seed_demo"):
        ensure_default_policies()  # the migrations made them; a database emptied since has none
        enrolments = seed_enrolments((year - 1, year))
        run = compute_subsidies(year)
    return {"enrolments": enrolments, "subsidised_persons": run.persons}


def _seed_claims(seed: int) -> dict:
    """Hospitals and settled claims for some of the demo persons (claims.demo)."""
    from claims.demo import seed_claims

    with audit_context(source="seed_demo"):
        made = seed_claims(seed)
    return {"hospitals": made.hospitals, "claims": made.claims, "settlements": made.settled}
