"""Check the audit trail's hash chains (records and the bulk-write journal) and name the first break."""
import json

from django.core.management.base import BaseCommand, CommandError

from claims.audit import verify_chain, verify_journal


class Command(BaseCommand):
    help = "校验审计记录与审计批量日志的哈希链，指出第一条被篡改的记录"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="以 JSON 输出")

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        entries, broken_entry = verify_journal()
        if options["json"]:
            self.stdout.write(json.dumps({"checked": checked, "first_broken_id": broken,
                                          "journal_checked": entries, "first_broken_journal_id": broken_entry}))
        problems = []
        if broken is not None:
            problems.append(f"审计链在第 {broken} 号记录处断裂（共检查 {checked} 条）")
        if broken_entry is not None:
            problems.append(f"审计批量日志在第 {broken_entry} 号日志处与其内容、链或展开的记录不符"
                            f"（共检查 {entries} 条）")
        if problems:
            raise CommandError("；".join(problems))
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(f"审计链完整：共 {checked} 条记录、{entries} 条批量日志"))
