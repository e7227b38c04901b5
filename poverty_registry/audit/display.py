"""The audit trail in the users' words: a table's Chinese object name, a column's field name, a stored value as
the pages show it (choice labels, 是/否, amounts with two decimals) and where a change came from (演示数据,
台账导入 #12 …). The trail keeps table names, columns, JSON values and source codes as written by the triggers;
only what is shown is translated, here, for the admin and every page that lists history."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.db import models
from django.utils.dateparse import parse_datetime

# Many-to-many tables of permissions (poverty_registry.audit.trail.PERMISSION_TABLES): no model of our own names them.
LINK_TABLES = {
    "poverty_registry_user_groups": ("账号的角色", {"user_id": "账号", "group_id": "角色"}),
    "poverty_registry_user_user_permissions": ("账号的单项权限", {"user_id": "账号", "permission_id": "权限"}),
    "auth_group_permissions": ("角色的权限", {"group_id": "角色", "permission_id": "权限"}),
}
COMMON_COLUMNS = {"id": "编号"}

# Sources written into audit.context by the code (poverty_registry.audit.trail.audit_context, the middleware).
SOURCES = {
    "web": "网页操作",
    "login": "登录",
    "seed_demo": "演示数据",
    "screen_claims": "筛查命令",
    "screen_nightly": "夜间筛查",
    "screen_persons": "人员筛查",
    "compute_subsidies": "资助计算命令",
    "import_ledger": "台账导入命令",
    "import_enrolments": "参保名单导入命令",
    "import_claims": "结算单导入命令",
}
# Sources naming a run: "import:12" → 台账导入 #12 (the import's kind from its run), "matching:3" → 夜间比对 #3.
RUN_SOURCES = {"import": "导入", "matching": "比对", "resettle": "重新结算"}


def model_of(table_name: str):
    return next((m for m in apps.get_models() if m._meta.db_table == table_name), None)


def model_label(table_name: str) -> str:
    """The Chinese object name of an audited table."""
    if table_name in LINK_TABLES:
        return LINK_TABLES[table_name][0]
    model = model_of(table_name)
    return str(model._meta.verbose_name) if model else "其他数据"


def _field(table_name: str, column: str):
    model = model_of(table_name)
    if model is None:
        return None
    return next((f for f in model._meta.concrete_fields if f.column == column), None)


def column_label(table_name: str, column: str) -> str:
    """The field's Chinese name for a column of the audited row."""
    if table_name in LINK_TABLES and column in LINK_TABLES[table_name][1]:
        return LINK_TABLES[table_name][1][column]
    field = _field(table_name, column)
    if field is not None and column != "id":
        return str(field.verbose_name)
    return COMMON_COLUMNS.get(column, "其他字段")


def shown_value(table_name: str, column: str, value) -> str:
    """A stored value as a page shows it: the choice's label, 是/否, an amount with its decimals, a time."""
    field = _field(table_name, column)
    if field is not None and field.choices and value in dict(field.flatchoices):
        return str(dict(field.flatchoices)[value])
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(field, models.DecimalField) and isinstance(value, int | float | str):
        try:
            return f"{Decimal(str(value)):,.{field.decimal_places}f}"
        except InvalidOperation:
            return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return _local(moment).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return json_text(value)
    if isinstance(value, str) and ":" in value:  # a compound key (a work item's "M04:694:dibao:extra")
        labels = json_labels()
        parts = value.split(":")
        if any(part in labels for part in parts):
            return " · ".join(labels.get(part, part) for part in parts)
    return str(value)


# Chinese names of coded values inside the JSON columns that the apps above this one define (enrollment's
# subsidy rule kinds, claims' policy segments and rule parameters): each registers its own at ready(), the base
# imports none of them (README "Layout").
_VALUE_LABELS: list[dict[str, str]] = []


def register_value_labels(labels: dict[str, str]) -> None:
    """Called by an upper app's AppConfig.ready(): names for the keys and codes its JSON columns hold."""
    _VALUE_LABELS.append(labels)


def json_labels() -> dict[str, str]:
    """Chinese names of the keys and coded values inside the JSON columns (policy parameters, subsidy rules,
    screening rule parameters)."""
    from ..matching import vocab as matching
    from ..vocab import ENROLMENT_STATUSES, POVERTY_STATUSES

    registered = {key: label for labels in _VALUE_LABELS for key, label in labels.items()}
    return {**registered, **ENROLMENT_STATUSES, **POVERTY_STATUSES, **MATCHING_DETAIL,
            **matching.SOURCES, **matching.DIFFERENCES, **matching.LINK_STATUSES,
            "kind": "资助方式", "value": "标准", "fund": "资金来源"}


# Keys of a matching work item's details (poverty_registry.matching.differences).
MATCHING_DETAIL = {
    "category": "类别", "direction": "方向", "missing": "台账缺少", "extra": "台账多出", "valid_from": "起始日期",
    "valid_to": "终止日期", "grade": "残疾等级", "death_date": "死亡日期", "ledger_death_date": "台账死亡日期",
    "enrolled_year": "参保年度", "enrolment_status": "参保状态", "poverty_status": "脱贫状态",
    "household_no": "户编号", "ledger_name": "台账姓名", "listed_name": "名单姓名", "reasons": "理由",
    "score": "相似度得分", "village": "所在村", "year": "年度", "row": "名单行号",
}


def json_text(value, labels: dict[str, str] | None = None) -> str:
    """A JSON value as a line of Chinese: 基本医保：起付线（元）：乡镇 200，县级 500；…"""
    labels = json_labels() if labels is None else labels
    if isinstance(value, dict):
        return "；".join(f"{labels.get(k, k)}：{_nested(v, labels)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_nested(v, labels) for v in value) or "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "不设"
    return labels.get(value, str(value)) if isinstance(value, str) else str(value)


def _nested(value, labels) -> str:
    text = json_text(value, labels)
    return f"（{text}）" if isinstance(value, dict) and len(value) > 1 else text


def _local(moment: dt.datetime) -> dt.datetime:
    from django.utils import timezone

    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def source_label(source: str) -> str:
    """Where a change came from, in words: 网页操作, 演示数据, 台账导入 #12, 比对 #3 …"""
    if not source:
        return "—"
    if source in SOURCES:
        return SOURCES[source]
    kind, _, number = source.partition(":")
    if kind == "import" and number.isdigit():
        return f"{_import_kind_label(int(number))} #{number}"
    if kind in RUN_SOURCES and number.isdigit():
        return f"{RUN_SOURCES[kind]} #{number}"
    return "其他来源"


def _import_kind_label(run_id: int) -> str:
    from ..models import ImportRun
    from ..vocab import IMPORT_KINDS

    kind = ImportRun.objects.filter(pk=run_id).values_list("kind", flat=True).first()
    return f"{IMPORT_KINDS.get(kind, '')}导入"


def record_title(table_name: str, action_label: str, object_pk: str) -> str:
    """A record's one-line title: 新增 结算结果 #15101."""
    return f"{action_label} {model_label(table_name)} #{object_pk}"
