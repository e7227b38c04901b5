"""Supervision cases (DOMAIN §7.2) as an enforced state machine:

    open → investigating → confirmed → recovering → closed
                         ↘ dismissed (with a reason) → closed

Every transition is a compare-and-set UPDATE (it succeeds only if the case is still in the state the user
saw), writes a CaseEvent, and is recorded by the audit-trail triggers (poverty_registry.audit). Confirming takes a
second supervisor: neither the investigator nor the one who opened the case. Recoveries are payments against the
amount due (amount to recover + penalty) until the balance is zero; then the case can be closed.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from poverty_registry.idnumber import mask_id_number
from poverty_registry.scoping import region_scope

from ..models import Case, CaseAttachment, CaseEvent, CaseHit, Recovery, ScreeningHit
from .rules import RULES
from .screening import penalty_range

log = logging.getLogger(__name__)
STORAGE_FAILED = "存储空间不足或不可写，文件未保存，请联系系统管理员处理后重新上传"

CENT = Decimal("0.01")
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ATTACHMENT_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".csv", ".txt", ".zip",
                       ".mp3", ".mp4")

# action: (states it may start from, state it leads to, label)
TRANSITIONS = {
    "investigate": (("open",), "investigating", "开始调查"),
    "confirm": (("investigating",), "confirmed", "审核认定"),
    "dismiss": (("investigating",), "dismissed", "排除疑点"),
    "recover": (("confirmed",), "recovering", "开始追缴"),
    "close": (("recovering", "dismissed"), "closed", "结案"),
}


class CaseError(Exception):
    """An operation the case's state or the user's role does not allow; the message is shown as is."""


def allowed_actions(case: Case) -> list[str]:
    return [action for action, (sources, _, _) in TRANSITIONS.items() if case.state in sources]


def _require_change(user, case: Case | None = None) -> None:
    if not user.has_perm("claims.change_case"):
        raise CaseError("您没有办理基金监管案件的权限")
    if case is not None and not Case.objects.restrict(user, "change").filter(pk=case.pk).exists():
        raise CaseError("案件不存在或不在您的辖区内")


def _transition(case: Case, user, action: str, note: str = "", guard: Q | None = None, **changes) -> Case:
    """Compare-and-set: move the case on only if it is still in the state the caller read (and `guard`
    still holds, in the same UPDATE)."""
    sources, target, label = TRANSITIONS[action]
    if case.state not in sources:
        raise CaseError(f"案件当前状态为“{case.get_state_display()}”，不能{label}")
    now = timezone.now()
    updated = Case.objects.filter(guard or Q(), pk=case.pk, state=case.state).update(
        state=target, state_changed_at=now, **changes)
    if updated != 1:
        current = Case.objects.get(pk=case.pk)
        if current.state == case.state:
            raise CaseError("案件数据已被他人更改（如新录入了追回款），请刷新页面后重试")
        raise CaseError(f"案件状态已被他人改为“{current.get_state_display()}”，请刷新页面后重试")
    CaseEvent.objects.create(case=case, action=label, from_state=case.state, to_state=target, note=note, user=user)
    case.refresh_from_db()
    return case


def _common_region(codes: list[str]) -> str:
    """The deepest administrative level shared by all the codes (2, 4, 6, 9 or 12 characters)."""
    common = codes[0]
    for code in codes[1:]:
        n = 0
        while n < min(len(common), len(code)) and common[n] == code[n]:
            n += 1
        common = common[:n]
    for length in (12, 9, 6, 4, 2):
        if len(common) >= length:
            return common[:length]
    return ""


@transaction.atomic
def open_case_from_hits(user, hit_ids: list[int], title: str = "", description: str = "") -> Case:
    """A case about one or more screening hits the user can see; its region is the deepest one they share."""
    _require_change(user)
    hits = list(ScreeningHit.objects.restrict(user).filter(pk__in=hit_ids).select_related("claim__hospital"))
    if not hits or len(hits) != len(set(hit_ids)):
        raise CaseError("请选择至少一条您辖区内的疑点")
    region = _common_region([h.region_id for h in hits])
    scope = region_scope(user)
    if not scope.covers(region):
        region = scope.code()
    claims = {h.claim for h in hits}
    hospitals = {c.hospital for c in claims}
    persons = {(c.id_number, c.name) for c in claims}
    rules = sorted({h.rule for h in hits})
    target = {}
    if len(hospitals) == 1:
        target = {"target_kind": "hospital", "target_hospital": next(iter(hospitals))}
    elif len(persons) == 1:
        number, name = next(iter(persons))
        target = {"target_kind": "person", "target_name": name, "target_id_number": number}
    default_title = f"{'、'.join(RULES[r].name for r in rules)}（{len(claims)}张结算单）"
    case = Case.objects.create(title=(title or default_title)[:120], description=description, source="hit",
                               region_id=region, opened_by=user, **target)
    CaseHit.objects.bulk_create([CaseHit(case=case, hit=h) for h in hits])
    CaseEvent.objects.create(case=case, action="立案", to_state="open", user=user,
                             note=f"由{len(hits)}条疑点立案：{'、'.join(rules)}")
    return case


@transaction.atomic
def open_case_by_hand(user, *, source: str, title: str, region_code: str, description: str = "",
                      target_kind: str = "", target_hospital=None, target_name: str = "",
                      target_id_number: str = "") -> Case:
    """A case from a tip-off (举报), a flight inspection (飞行检查) or a petition (信访)."""
    _require_change(user)
    if source not in Case.SOURCES or source == "hit":
        raise CaseError("手工立案的来源须为举报、飞行检查或信访")
    if not title.strip():
        raise CaseError("请填写案件名称")
    if not region_scope(user).covers(region_code):
        raise CaseError("案件所属区划须在您的辖区内")
    case = Case.objects.create(title=title.strip()[:120], description=description, source=source,
                               region_id=region_code, opened_by=user, target_kind=target_kind,
                               target_hospital=target_hospital, target_name=target_name,
                               target_id_number=target_id_number)
    CaseEvent.objects.create(case=case, action="立案", to_state="open", user=user, note=case.get_source_display())
    return case


@transaction.atomic
def start_investigation(case: Case, user, note: str = "") -> Case:
    _require_change(user, case)
    return _transition(case, user, "investigate", note, investigator=user)


def record_findings(case: Case, user, *, amount_to_recover: Decimal, penalty_multiple: Decimal | None,
                    target_kind: str, target_hospital=None, target_name: str = "", target_id_number: str = "",
                    finding: str = "") -> Case:
    """While investigating: the amount to recover, the penalty multiple and against whom."""
    _require_change(user, case)
    if case.state != "investigating":
        raise CaseError(f"案件当前状态为“{case.get_state_display()}”，只有调查中的案件可以录入调查结论")
    if amount_to_recover is None or amount_to_recover < 0:
        raise CaseError("应追回金额不能为负数")
    if target_kind not in Case.TARGET_KINDS:
        raise CaseError("请选择处理对象：定点医疗机构、定点零售药店或参保人员")
    if target_kind == "hospital" and target_hospital is None:
        raise CaseError("处理对象为定点医疗机构时须选择医疗机构")
    if target_kind != "hospital" and not target_name.strip():
        raise CaseError("请填写处理对象名称或姓名")
    amount = Decimal(amount_to_recover).quantize(CENT, rounding=ROUND_HALF_UP)
    penalty = Decimal("0.00")
    if penalty_multiple is not None:
        low, high = penalty_range(case.region_id, case.opened_at.year)
        if not low <= penalty_multiple <= high:
            raise CaseError(f"处罚倍数须在 {low} 至 {high} 倍之间（医疗保障基金使用监督管理条例）")
        penalty = (amount * penalty_multiple).quantize(CENT, rounding=ROUND_HALF_UP)
    updated = Case.objects.filter(pk=case.pk, state="investigating").update(
        amount_to_recover=amount, penalty_multiple=penalty_multiple, penalty_amount=penalty,
        target_kind=target_kind, target_hospital=target_hospital if target_kind == "hospital" else None,
        target_name=target_name.strip(), target_id_number=target_id_number.strip(), finding=finding)
    if updated != 1:
        raise CaseError("案件状态已被他人更改，请刷新页面后重试")
    case.refresh_from_db()
    return case


def check_may_confirm(case: Case, user) -> None:
    """CaseError unless the user may 审核认定 this case now (asked before its confirmation page, and again
    when confirming)."""
    _require_change(user, case)
    if user.role != "supervisor":
        raise CaseError("只有基金监管人员可以审核认定案件")
    if user.pk in (case.investigator_id, case.opened_by_id):
        raise CaseError("不能审核认定自己立案或调查的案件，须由另一名监管人员审核")
    if case.state == "investigating" and (not case.target_kind or case.amount_to_recover <= 0):
        raise CaseError("认定前须由调查人录入应追回金额（大于0）和处理对象")


@transaction.atomic
def confirm(case: Case, user, note: str = "") -> Case:
    """审核认定 by a second supervisor: not the investigator, not the one who opened the case."""
    check_may_confirm(case, user)
    return _transition(case, user, "confirm", note, reviewer=user, decided_at=timezone.now())


@dataclass(frozen=True)
class ConfirmationFigures:
    """What 审核认定 fixes: the hits and claims of the case, and the money due from the target."""

    hits: int
    claims: int
    amount: Decimal
    penalty: Decimal
    target: str

    @property
    def due(self) -> Decimal:
        return self.amount + self.penalty


def confirmation_figures(case: Case) -> ConfirmationFigures:
    counts = CaseHit.objects.filter(case=case).aggregate(hits=Count("id"), claims=Count("hit__claim", distinct=True))
    if case.target_kind == "hospital" and case.target_hospital_id:
        target = case.target_hospital.name
    else:
        target = case.target_name or "—"
    label = Case.TARGET_KINDS.get(case.target_kind, "")
    return ConfirmationFigures(counts["hits"], counts["claims"], case.amount_to_recover, case.penalty_amount,
                               f"{label}“{target}”" if label else target)


@transaction.atomic
def dismiss(case: Case, user, reason: str) -> Case:
    _require_change(user, case)
    if not (reason or "").strip():
        raise CaseError("排除疑点须填写理由")
    return _transition(case, user, "dismiss", reason.strip(), dismissal_reason=reason.strip(),
                       reviewer=user, decided_at=timezone.now())


@transaction.atomic
def start_recovery(case: Case, user, note: str = "") -> Case:
    _require_change(user, case)
    return _transition(case, user, "recover", note)


def close(case: Case, user, note: str = "") -> Case:
    _require_change(user, case)
    if case.state == "recovering" and case.balance != 0:
        raise CaseError(f"尚有 ¥{case.balance:,.2f} 未追回，余额为零后才能结案")
    # The balance is re-checked in the same UPDATE: a payment entered meanwhile cannot slip in between.
    paid_up = Q(recovered_amount=F("amount_to_recover") + F("penalty_amount")) if case.state == "recovering" else None
    with transaction.atomic():
        return _transition(case, user, "close", note, guard=paid_up, closed_at=timezone.now())


@transaction.atomic
def add_recovery(case: Case, user, *, amount: Decimal, paid_on, payer: str = "", receipt_no: str = "",
                 note: str = "") -> Recovery:
    """A payment received; never more than the balance."""
    _require_change(user, case)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.state != "recovering":
        raise CaseError(f"案件当前状态为“{locked.get_state_display()}”，只有追缴中的案件可以录入追回款")
    if amount is None or amount <= 0:
        raise CaseError("到账金额须大于0")
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    if amount > locked.balance:
        raise CaseError(f"到账金额 ¥{amount:,.2f} 超过未追回余额 ¥{locked.balance:,.2f}")
    recovery = Recovery.objects.create(case=locked, amount=amount, paid_on=paid_on, payer=payer,
                                       receipt_no=receipt_no, note=note, entered_by=user, region_id=locked.region_id)
    Case.objects.filter(pk=locked.pk).update(recovered_amount=F("recovered_amount") + amount)
    CaseEvent.objects.create(case=locked, action="录入追回款", from_state=locked.state, to_state=locked.state,
                             user=user, note=f"¥{amount:,.2f} {receipt_no}".strip())
    case.refresh_from_db()
    return recovery


def add_attachment(case: Case, user, upload) -> CaseAttachment:
    """An evidence file (kept under MEDIA_ROOT, served only through the scoped case page)."""
    _require_change(user, case)
    if case.state == "closed":
        raise CaseError("已结案的案件不能再上传材料")
    name = upload.name or "附件"
    if not name.lower().endswith(ATTACHMENT_SUFFIXES):
        raise CaseError(f"不支持的文件类型，可上传：{'、'.join(ATTACHMENT_SUFFIXES)}")
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise CaseError("文件不能超过 20 MB")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    attachment = CaseAttachment(case=case, name=name[:200], size=upload.size, sha256=digest.hexdigest(),
                                uploaded_by=user)
    try:
        attachment.file.save(name, upload, save=False)
    except OSError as exc:  # disk full, MEDIA_ROOT not writable or not a directory: say so, write no row
        log.error("案件 %s 的证据材料未能写入存储：%s", case.pk, exc)
        raise CaseError(STORAGE_FAILED) from exc
    try:
        with transaction.atomic():
            attachment.save()
            CaseEvent.objects.create(case=case, action="上传材料", from_state=case.state, to_state=case.state,
                                     user=user, note=name[:200])
    except BaseException:
        attachment.file.delete(save=False)  # no file left behind without its row
        raise
    return attachment


# ---- publication (公示) -----------------------------------------------------------------------------------

def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***: the surname's first character only."""
    name = (name or "").strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""


PUBLICATION_HEADERS = ["案件编号", "处理对象类型", "处理对象", "身份证号", "违规情形", "案件来源", "追回金额",
                       "罚款金额", "合计追回", "结案日期"]


def publication_rows(cases) -> list[list]:
    """Closed, confirmed cases for 公示: persons' names and ID numbers masked, institutions named."""
    rows = []
    for case in cases.filter(state="closed", reviewer__isnull=False, dismissal_reason="").select_related(
            "target_hospital").prefetch_related("hits"):
        if case.target_kind == "hospital":
            target, number = str(case.target_hospital.name if case.target_hospital else case.target_name), ""
        elif case.target_kind == "pharmacy":
            target, number = case.target_name, ""
        else:
            target, number = mask_name(case.target_name), mask_id_number(case.target_id_number)
        rules = sorted({h.rule for h in case.hits.all()})
        rows.append([case.number, case.get_target_kind_display(), target, number,
                     "、".join(RULES[r].name for r in rules) or case.get_source_display(), case.get_source_display(),
                     case.amount_to_recover, case.penalty_amount, case.recovered_amount,
                     timezone.localtime(case.closed_at).date() if case.closed_at else None])
    return rows
