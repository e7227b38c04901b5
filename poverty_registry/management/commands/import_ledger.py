"""Import a township ledger file (DOMAIN §4.6): the same service as the admin page."""
import json

from django.core.management.base import BaseCommand, CommandError

from poverty_registry import importing
from poverty_registry.tabular import TableFormatError


class Command(BaseCommand):
    help = "导入建档立卡台账（.xlsx/.xls/.csv），与后台页面使用同一导入服务"

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--user", required=True, help="以该账号的辖区和权限导入")
        parser.add_argument("--dry-run", action="store_true", help="只预览，不写入")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, path, user, dry_run, **options):
        try:
            outcome = importing.import_path_as("ledger", path, user, dry_run=dry_run, source="import_ledger")
        except (TableFormatError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        report = outcome.as_json()
        report.pop("rows_rejected")
        ordered = {key: report[key] for key in ("rows_read", "households_imported", "persons_created",
                                                "persons_updated", "persons_unchanged")}
        ordered["rows_rejected"] = outcome.rows_rejected
        ordered["errors"] = report["errors"]
        if options["json"]:
            self.stdout.write(json.dumps(ordered, ensure_ascii=False))
        else:
            for error in outcome.errors[:50]:
                self.stdout.write(error.text())
            self.stdout.write(f"读取 {outcome.rows_read} 行；导入 {ordered['households_imported']} 户，新增 "
                              f"{ordered['persons_created']} 人，修改 {ordered['persons_updated']} 人，未变 "
                              f"{ordered['persons_unchanged']} 人；拒绝 {outcome.rows_rejected} 行"
                              + ("（预览，未写入）" if dry_run else ""))
