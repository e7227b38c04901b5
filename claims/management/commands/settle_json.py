"""DOMAIN §6.6: settle JSON documents from standard input, print the results; nothing is saved."""
import json
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from claims.settlement.engine import SettlementInputError, settle_document
from claims.settlement.policy_sets import params_for_code


def _policy_for(doc):
    code = doc.get("policy") if isinstance(doc, dict) else None
    person = doc.get("person") if isinstance(doc, dict) else None
    region = str(person.get("id_number") or "")[:6] if isinstance(person, dict) else ""
    cache = {}

    def for_year(year: int):
        if year not in cache:
            cache[year] = params_for_code(code, year, region if region.isdigit() else "")
        return cache[year]

    return for_year


def settle_one(doc) -> dict:
    return settle_document(doc, _policy_for(doc))


class Command(BaseCommand):
    help = "从标准输入读取结算文档（JSON 对象或列表），输出各档结算结果，不保存（DOMAIN §6.6）"

    def handle(self, *args, **options):
        try:
            data = json.loads(sys.stdin.read(), parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise CommandError(f"输入不是有效的 JSON：{exc}") from None
        if isinstance(data, list):
            results = []
            for doc in data:
                try:
                    results.append(settle_one(doc))
                except SettlementInputError as exc:
                    results.append({"error": str(exc)})
            self.stdout.write(json.dumps(results, ensure_ascii=False))
            return
        try:
            self.stdout.write(json.dumps(settle_one(data), ensure_ascii=False))
        except SettlementInputError as exc:
            raise CommandError(str(exc)) from None
