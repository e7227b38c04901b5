"""`manage.py run_matching [--inbox DIR] [--celery] --json`: run the cross-department matching at once (DOMAIN §8.3)."""
from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from poverty_registry.audit.trail import audit_context
from poverty_registry.matching import run as matching
from poverty_registry.models import MatchingRun


class Command(BaseCommand):
    help = "立即执行跨部门比对：读取收件目录中的新名单，关联、找出差异 M01–M07 并生成待办事项"

    def add_arguments(self, parser):
        parser.add_argument("--inbox", help="收件目录（默认为设置 MATCHING_INBOX）")
        parser.add_argument("--json", action="store_true", help="输出 JSON：{\"run_id\", \"counts\": {\"M01\": n, …}}")
        parser.add_argument("--celery", action="store_true",
                            help="交给 Celery 工作进程按县（区）分片执行，并等待结果")
        parser.add_argument("--timeout", type=int, default=3600, help="--celery 时最长等待秒数")

    def handle(self, *args, **options):
        inbox = options["inbox"]
        try:
            run = self._via_celery(inbox, options["timeout"]) if options["celery"] else self._in_process(inbox)
        except matching.AlreadyRunning as exc:
            raise CommandError(str(exc)) from None
        result = matching.report(run)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(f"第{run.pk}次比对（{run.run_date}）：{run.get_status_display()}")
        for code, count in result["counts"].items():
            self.stdout.write(f"  {code}：{count}")
        for file in run.files:
            outcome = f"载入 {file['rows']} 行" if file["status"] == "loaded" else file["message"]
            self.stdout.write(f"  文件 {file['file_name']}：{outcome}")

    def _in_process(self, inbox) -> MatchingRun:
        run, _ = matching.begin(inbox, "command")
        with audit_context(source=f"matching:{run.pk}"):
            return matching.execute(run.pk)

    def _via_celery(self, inbox, timeout: int) -> MatchingRun:
        from poverty_registry.matching_tasks import start_matching

        started = start_matching.delay(inbox, "command").get(timeout=timeout)
        if started["status"] == "already_running":
            raise CommandError(started["message"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = MatchingRun.objects.get(pk=started["run_id"])
            if run.status != "running":
                return run
            time.sleep(1)
        raise CommandError(f"第{started['run_id']}次比对在 {timeout} 秒内未完成")

