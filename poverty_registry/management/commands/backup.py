"""Back up the configured database and the media folder into one file under var/backups/ (config.backups)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config import backups


class Command(BaseCommand):
    help = "备份数据库（pg_dump 自定义格式）和媒体目录到一个文件，默认放在 var/backups/，文件名含日期时间"

    def add_arguments(self, parser):
        parser.add_argument("--output-dir", type=Path, help="备份目录（默认 BACKUP_DIR 或 var/backups）")

    def handle(self, *args, output_dir=None, **options):
        try:
            path = backups.backup(output_dir)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        tables = backups.read_manifest(path)["row_counts"]
        size = path.stat().st_size / 1e6
        self.stdout.write(self.style.SUCCESS(f"备份完成：{path}（{size:.1f} MB，{len(tables)} 张表）"))
