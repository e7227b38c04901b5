"""Check the audit trail's hash chains (records and the bulk-write journal) and every anchor of their heads (the
signed lines of the anchor file); name the first break."""
import json

from django.core.management.base import BaseCommand, CommandError

from poverty_registry.audit.anchor import AnchorKeyMissing, anchor_path, verify_anchors
from poverty_registry.audit.trail import verify_chain, verify_journal


class Command(BaseCommand):
    help = "校验审计记录与审计批量日志的哈希链及其锚点，指出第一条被篡改的记录或第一个不再相符的锚点"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="以 JSON 输出")
        parser.add_argument("--no-anchors", action="store_true",
                            help="不核对锚点文件（如核对一份较早的备份：其后的锚点必然不符）")

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        entries, broken_entry = verify_journal()
        anchors = None
        if not options["no_anchors"]:
            try:
                anchors = verify_anchors()
            except AnchorKeyMissing as exc:
                raise CommandError(str(exc)) from exc
        first_anchor = anchors.first_broken if anchors else None
        if options["json"]:
            self.stdout.write(json.dumps({
                "checked": checked, "first_broken_id": broken,
                "journal_checked": entries, "first_broken_journal_id": broken_entry,
                "anchors_checked": anchors.checked if anchors else 0,
                "first_broken_anchor": first_anchor.fields.get("n") if first_anchor and first_anchor.fields else None,
                "first_broken_anchor_line": first_anchor.line_no if first_anchor else None,
            }))
        problems = []
        if broken is not None:
            problems.append(f"审计链在第 {broken} 号记录处断裂（共检查 {checked} 条）")
        if broken_entry is not None:
            problems.append(f"审计批量日志在第 {broken_entry} 号日志处与其内容、链或展开的记录不符"
                            f"（共检查 {entries} 条）")
        if first_anchor is not None:
            problems.append(f"{first_anchor.label}不再相符：{first_anchor.problem}（共检查 {anchors.checked} 个锚点）")
        if problems:
            raise CommandError("；".join(problems))
        if anchors is not None and not anchors.found:
            self.stderr.write(f"未找到审计锚点文件 {anchor_path()}：尚无锚点可核对")
        if not options["json"]:
            anchored = f"、{anchors.checked} 个锚点" if anchors and anchors.found else ""
            self.stdout.write(self.style.SUCCESS(f"审计链完整：共 {checked} 条记录、{entries} 条批量日志{anchored}"))
