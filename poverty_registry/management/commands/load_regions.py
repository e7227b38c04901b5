"""Load administrative regions from a CSV file `code,name`."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from poverty_registry.services import load_regions


class Command(BaseCommand):
    help = "从 CSV（代码,名称）导入行政区划，级别和上级由代码推出"

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
        result = load_regions(text)
        if result.errors:
            raise CommandError("区划文件有错误，未导入：\n" + "\n".join(result.errors[:50]))
        self.stdout.write(f"新增 {result.created}，更新 {result.updated}，未变 {result.unchanged}")
