"""Restore a backup file into the configured database, which must be empty (config.backups)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config import backups


class Command(BaseCommand):
    help = "把备份文件恢复到当前配置的数据库（必须是空库）和媒体目录，并核对每张表的行数"
    requires_system_checks = []  # the target database is empty until the restore

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="make backup 生成的 .tar 备份文件")

    def handle(self, *args, file, **options):
        try:
            differences = backups.restore(file)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        if differences:
            lines = [f"{table}：备份 {expected} 行，恢复后 {found} 行"
                     for table, (expected, found) in differences.items()]
            raise CommandError("恢复后的行数与备份不符：\n" + "\n".join(lines))
        tables = backups.read_manifest(file)["row_counts"]
        self.stdout.write(self.style.SUCCESS(
            f"恢复完成：{len(tables)} 张表的行数与备份一致。请运行 python manage.py verify_audit 校验审计链"))
