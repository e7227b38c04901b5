"""Check the audit trail's hash chain and name the first broken record."""
import json

from django.core.management.base import BaseCommand, CommandError

from claims.audit import verify_chain


class Command(BaseCommand):
    help = "校验审计记录哈希链，指出第一条被篡改的记录"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="以 JSON 输出")

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        if options["json"]:
            self.stdout.write(json.dumps({"checked": checked, "first_broken_id": broken}))
        if broken is not None:
            raise CommandError(f"审计链在第 {broken} 号记录处断裂（共检查 {checked} 条）")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(f"审计链完整：共 {checked} 条记录"))
