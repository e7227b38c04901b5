"""Compute a year's premium subsidies (资助明细) set-based and print the totals (DOMAIN §5)."""
import json

from django.core.management.base import BaseCommand, CommandError

from enrollment.subsidies import NoPolicy, compute_subsidies, subsidy_totals
from poverty_registry.audit.trail import audit_context
from poverty_registry.vocab import CATEGORIES


class Command(BaseCommand):
    help = "计算某参保年度的资助参保明细，输出各类别人数与金额"

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--region", help="只计算该区划（默认全部）")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, year, region, **options):
        try:
            with audit_context(source="compute_subsidies"):
                run = compute_subsidies(year, scope_code=region)
        except NoPolicy as exc:
            raise CommandError(str(exc)) from None
        totals = subsidy_totals(year, region)
        if options["json"]:
            self.stdout.write(json.dumps(totals.as_json(), ensure_ascii=False))
            return
        self.stdout.write(f"{year}年资助 {totals.persons} 人，合计 {totals.total_subsidy:.2f} 元"
                          f"（新增 {run.added}，变更 {run.changed}，取消 {run.removed}，未变 {run.unchanged}）")
        for code, total in totals.by_category.items():
            self.stdout.write(f"  {CATEGORIES.get(code, code)}：{total.persons} 人，{total.amount:.2f} 元")
