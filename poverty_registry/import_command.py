"""The command-line shape shared by the import commands: a file, an optional account whose region and
permission apply, --dry-run and --json; the same import service as the pages (importing.import_path_as)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from . import importing


class ImportCommand(BaseCommand):
    kind = ""  # the ImportKind's code
    user_help = ""
    user_required = False  # the ledger is always imported as a township's (or county's) account

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--user", required=self.user_required, help=self.user_help)
        parser.add_argument("--dry-run", action="store_true", help="只检查并统计，不写入")
        parser.add_argument("--json", action="store_true")

    def summary(self, result: dict) -> str:
        """The one line printed without --json."""
        raise NotImplementedError

    def handle(self, *args, path, user, dry_run, **options):
        source = self.__module__.rsplit(".", 1)[-1]  # the command's name, in the audit trail
        try:
            outcome = importing.import_path_as(self.kind, path, user, dry_run=dry_run, source=source)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        result = outcome.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(self.summary(result) + ("（预览，未写入）" if dry_run else ""))
        for error in outcome.errors[:50]:
            self.stdout.write(f"  {error.text()}")
