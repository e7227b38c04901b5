"""Re-settle a whole year (after a policy change) at once, or resume a run that stopped."""
import json

from django.core.management.base import BaseCommand, CommandError

from claims.settlement.models import ResettleRun
from claims.settlement.services import REASON_POLICY, resettle_year
from poverty_registry.audit.trail import audit_context
from poverty_registry.models import Region


class Command(BaseCommand):
    help = "按现行政策重新结算某年度全部结算单（只对结果有变化的单据写入新版本）；--resume 续跑中断的批次"

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int)
        parser.add_argument("--region", default="4306", help="区划代码（默认 4306）")
        parser.add_argument("--resume", type=int, help="续跑的批次编号")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, year, region, resume, **options):
        if resume:
            run = ResettleRun.objects.filter(pk=resume).first()
            if run is None:
                raise CommandError(f"批次 {resume} 不存在")
        else:
            if not year:
                raise CommandError("请用 --year 指定年度，或用 --resume 指定续跑的批次")
            if not Region.objects.filter(code=region).exists():
                raise CommandError(f"区划 {region} 不存在")
            run = ResettleRun.objects.create(year=year, region_id=region, reason=REASON_POLICY)
        with audit_context(source=f"resettle:{run.pk}"):
            run = resettle_year(run.pk)
        result = {"run_id": run.pk, "year": run.year, "region": run.region_id, "persons": run.persons_done,
                  "claims": run.claims_done, "settlements_written": run.settlements_written,
                  "paid_difference": f"{run.paid_difference:.2f}"}
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write(f"{run.year}年 {run.region_id}：{run.persons_done} 人、{run.claims_done} 张单据，"
                              f"新结算版本 {run.settlements_written} 个，应补付差额 {run.paid_difference:.2f} 元")
