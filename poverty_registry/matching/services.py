"""What staff do with matching results: move a work item, confirm or reject a probable link, and the safe
follow-ups offered (never forced): mark a person deceased, add a category confirmed by civil affairs.

Every write is a compare-and-set on the row's current status, so a double click or a second tab acts once;
the audit trail (triggers) records each change with the user from the request.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import sql
from ..models import MatchingItem, MatchLink, PersonCategory
from ..vocab import CATEGORIES
from .vocab import ITEM_STATUSES, ITEM_TRANSITIONS, OPEN_STATUSES


class ActionRefused(ValueError):
    """The action is not possible now; the message is for the clerk."""


def _append(note: str, line: str) -> str:
    return f"{note}\n{line}" if note else line


def change_status(item: MatchingItem, user, status: str, note: str = "") -> MatchingItem:
    if status not in ITEM_TRANSITIONS.get(item.status, ()):
        raise ActionRefused(f"事项当前为“{item.get_status_display()}”，不能改为“{ITEM_STATUSES.get(status, status)}”")
    note = note.strip()
    if status == "dismissed" and not note:
        raise ActionRefused("标记为“无问题”时请填写说明")
    line = f"{timezone.localtime():%Y-%m-%d %H:%M} {user.username}：{ITEM_STATUSES[status]}"
    line += f"，{note}" if note else ""
    closing = status not in OPEN_STATUSES
    changed = MatchingItem.objects.filter(pk=item.pk, status=item.status).update(
        status=status, note=_append(item.note, line), updated_at=timezone.now(),
        closed_by=user if closing else None, closed_at=timezone.now() if closing else None)
    if changed != 1:
        raise ActionRefused("该事项已被他人处理，请刷新页面")
    item.refresh_from_db()
    return item


def decide_link(link: MatchLink, user, confirm: bool, note: str = "") -> MatchLink:
    """Confirm (the listed number is this person from now on) or reject a proposed link; closes its M07 item."""
    status = "confirmed" if confirm else "rejected"
    with transaction.atomic():
        changed = MatchLink.objects.filter(pk=link.pk, status="proposed").update(
            status=status, decided_by=user, decided_at=timezone.now(), note=note.strip())
        if changed != 1:
            raise ActionRefused("该疑似关联已被处理或已失效，请刷新页面")
        verdict = "疑似关联已" + ("确认为同一人" if confirm else "否决（不是同一人）")
        verdict += f"：{note.strip()}" if note.strip() else ""
        for item in MatchingItem.objects.filter(link=link, status__in=OPEN_STATUSES):
            change_status(item, user, "resolved", verdict)
    link.refresh_from_db()
    return link


def _death_of(item: MatchingItem) -> dt.date:
    death = _detail_date(item, "death_date")
    if item.code != "M05" or item.person is None or death is None:
        raise ActionRefused("只有台账人员的死亡记录事项可以标记死亡")
    return death


@dataclass(frozen=True)
class DeathPreview:
    """What marking the person dead touches (its confirmation page)."""

    death_date: dt.date
    recorded_death: dt.date | None  # the ledger's death date now, if any
    open_items: int  # open work items of the person, this one included (it closes; the others stay)
    categories_after: int  # category spans still held after the death date (marking does not end them)
    enrolments_after: int  # 正常参保 enrolments of years after the year of death
    subsidy_lines_after: int  # subsidy lines of years after the year of death, cancelled by the next computation
    subsidy_after: Decimal


def deceased_preview(item: MatchingItem) -> DeathPreview:
    death = _death_of(item)
    person = item.person
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "after_death"),
                       {"person": person.pk, "number": person.id_number, "year": death.year})
        enrolments, lines, amount = cursor.fetchone()
    return DeathPreview(
        death_date=death, recorded_death=person.death_date,
        open_items=MatchingItem.objects.filter(person=person, status__in=OPEN_STATUSES).count(),
        categories_after=PersonCategory.objects.filter(person=person).held_on(death + dt.timedelta(days=1)).count(),
        enrolments_after=enrolments, subsidy_lines_after=lines, subsidy_after=amount)


def mark_deceased(item: MatchingItem, user) -> MatchingItem:
    """M05 follow-up: record the death date on the ledger person (subsidies stop; later claims hit R01)."""
    death = _death_of(item)
    with transaction.atomic():
        person = type(item.person).objects.select_for_update().get(pk=item.person_id)
        person.death_date = death
        person.save(update_fields=["death_date", "updated_at"])
        return change_status(item, user, "resolved", f"已在台账标记死亡，死亡日期 {death}")


def add_category(item: MatchingItem, user) -> MatchingItem:
    """M04 follow-up: add the category civil affairs (or the disability list) shows, with its dates."""
    detail = item.detail
    category = detail.get("category")
    if item.code != "M04" or detail.get("direction") != "missing" or item.person is None or category not in CATEGORIES:
        raise ActionRefused("只有“台账缺少类别”的事项可以添加类别")
    valid_from = _detail_date(item, "valid_from")
    if valid_from is None:
        raise ActionRefused("缺少起始日期，无法添加类别")
    valid_to = _detail_date(item, "valid_to")
    try:
        with transaction.atomic():
            PersonCategory.objects.create(person_id=item.person_id, category=category, valid_from=valid_from,
                                          valid_to=valid_to, source="civil_affairs")
            span = f"{valid_from}～{valid_to or '至今'}"
            return change_status(item, user, "resolved", f"已按比对结果添加类别：{CATEGORIES[category]} {span}")
    except IntegrityError:
        raise ActionRefused(f"该人员的{CATEGORIES[category]}与已有类别时段重叠，请在台账中调整后再处理") from None


def _detail_date(item: MatchingItem, key: str) -> dt.date | None:
    value = item.detail.get(key)
    return dt.date.fromisoformat(value) if value else None
