"""Anchor the heads of the audit chains in the anchor file (for cron; beat runs the same every hour)."""
from django.core.management.base import BaseCommand, CommandError

from poverty_registry.audit.anchor import AnchorFileDamaged, AnchorKeyMissing, anchor_path, write_anchor


class Command(BaseCommand):
    help = "把审计链当前的链头（最后编号与链哈希）以 HMAC 签名追加到审计锚点文件"

    def handle(self, *args, **options):
        try:
            line = write_anchor()
        except (AnchorKeyMissing, AnchorFileDamaged, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if line is None:
            self.stdout.write("审计链头自上一锚点以来未变化，未写入新锚点")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"已写入第 {line['n']} 号锚点：审计记录 #{line['record_id']}，批量日志 #{line['journal_id']}"
                f"（{anchor_path()}）"))
