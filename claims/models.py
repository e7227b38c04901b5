"""Claims, settlement and fund supervision; and the audit trail that every app writes through triggers."""
import json

from django.db import models

from poverty_registry.models import CityWideQuerySet, Person, Region, User
from poverty_registry.scoping import RegionScopedManager
from poverty_registry.vocab import HOSPITAL_LEVELS, VISIT_TYPES

from .settlement.engine import SETTLED_CATEGORIES, TIER_CODES, TIER_NAMES

MONEY = {"max_digits": 14, "decimal_places": 2}


class Hospital(models.Model):
    """A designated medical institution (定点医疗机构), keyed by its 医疗机构编码."""

    code = models.CharField("医疗机构编码", max_length=30, unique=True)
    name = models.CharField("医疗机构名称", max_length=100)
    level = models.CharField("医院等级", max_length=10, choices=HOSPITAL_LEVELS.items())
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在区划")

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "定点医疗机构"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"


class PolicySet(models.Model):
    """A versioned set of every settlement parameter of DOMAIN §6.4 for one year and region.

    A new version is a new row; a settlement keeps the version it used, so nothing issued is rewritten.
    """

    code = models.CharField("政策编码", max_length=40, unique=True)
    year = models.PositiveSmallIntegerField("年度")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="适用区划")
    version = models.PositiveIntegerField("版本", default=1)
    params = models.JSONField("参数")
    in_force = models.BooleanField("现行有效", default=True)
    note = models.CharField("调整说明", max_length=200, blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, verbose_name="制定人")
    created_at = models.DateTimeField("制定时间", auto_now_add=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "结算政策参数"
        ordering = ["-year", "region", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["year", "region", "version"], name="policy_version_unique"),
            models.UniqueConstraint(fields=["year", "region"], condition=models.Q(in_force=True),
                                    name="one_policy_in_force"),
        ]

    def __str__(self):
        return f"{self.year}年 {self.region.name} 第{self.version}版"


class Claim(models.Model):
    """A hospital bill (结算单) as the hospital sent it (DOMAIN §6.1)."""

    STATUSES = {"unsettled": "未结算", "settled": "已结算"}

    hospital = models.ForeignKey(Hospital, models.PROTECT, verbose_name="医疗机构")
    claim_no = models.CharField("结算单号", max_length=40)
    hospital_level = models.CharField("医院等级", max_length=10, choices=HOSPITAL_LEVELS.items())
    in_county = models.BooleanField("是否县域内")
    referral = models.BooleanField("是否转诊", default=False)
    visit_type = models.CharField("就诊类型", max_length=20, choices=VISIT_TYPES.items())
    id_number = models.CharField("身份证号", max_length=18, db_index=True)
    name = models.CharField("姓名", max_length=50)
    person = models.ForeignKey(Person, models.PROTECT, null=True, blank=True, related_name="claims",
                               verbose_name="建档立卡人员")
    admission_date = models.DateField("入院日期")
    discharge_date = models.DateField("出院日期")
    diagnosis = models.CharField("主要诊断编码", max_length=20)
    total_cost = models.DecimalField("医疗总费用", **MONEY)
    uncovered_cost = models.DecimalField("目录外费用", **MONEY)
    year = models.PositiveSmallIntegerField("结算年度", editable=False)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="参保人所在区划")
    status = models.CharField("状态", max_length=10, choices=STATUSES.items(), default="unsettled")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "住院/门诊结算单"
        ordering = ["-discharge_date", "claim_no"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "claim_no"], name="claim_no_unique_per_hospital"),
            models.CheckConstraint(condition=models.Q(discharge_date__gte=models.F("admission_date")),
                                   name="claim_discharge_after_admission"),
            models.CheckConstraint(condition=models.Q(uncovered_cost__gte=0)
                                   & models.Q(uncovered_cost__lte=models.F("total_cost")),
                                   name="claim_uncovered_within_total"),
        ]
        indexes = [models.Index(fields=["id_number", "year"], name="claim_person_year")]

    def __str__(self):
        return f"{self.claim_no}（{self.name}）"

    def save(self, *args, **kwargs):
        self.year = self.admission_date.year
        super().save(*args, **kwargs)


class Settlement(models.Model):
    """One version of a claim's one-stop settlement; the current one has is_current. Older versions stay,
    so a re-settlement shows old and new side by side and the difference to pay or recover."""

    # (claim, version) is unique: that index serves look-ups by claim, no second one to write per version
    claim = models.ForeignKey(Claim, models.CASCADE, related_name="settlements", verbose_name="结算单",
                              db_index=False)
    version = models.PositiveIntegerField("版本")
    is_current = models.BooleanField("当前版本", default=True)
    policy = models.ForeignKey(PolicySet, models.PROTECT, null=True, verbose_name="所用政策")
    category = models.CharField("适用人员类别", max_length=20, blank=True, choices=SETTLED_CATEGORIES.items())
    enrolled = models.BooleanField("当年参保")
    basic = models.DecimalField(TIER_NAMES["basic"], **MONEY)
    critical = models.DecimalField(TIER_NAMES["critical"], **MONEY)
    assistance = models.DecimalField(TIER_NAMES["assistance"], **MONEY)
    hospital_waiver = models.DecimalField(TIER_NAMES["hospital_waiver"], **MONEY)
    special_insurance = models.DecimalField(TIER_NAMES["special_insurance"], **MONEY)
    backstop = models.DecimalField(TIER_NAMES["backstop"], **MONEY)
    self_pay = models.DecimalField("个人自付", **MONEY)
    # A digest of the explanation: a re-settlement whose digest is unchanged writes no new version.
    digest = models.CharField("明细摘要", max_length=24, blank=True)
    reason = models.CharField("结算原因", max_length=60, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="区划", db_index=False)
    settled_at = models.DateTimeField("结算时间", auto_now_add=True)

    region_field = "region__code"
    audited = True
    # is_current follows from the versions (the newest is current), each of which enters the trail when
    # it is written.
    audit_exclude = ("is_current",)
    objects = RegionScopedManager()
    tier_codes = TIER_CODES

    class Meta:
        verbose_name = verbose_name_plural = "结算结果"
        ordering = ["claim", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "version"], name="settlement_version_unique"),
            models.UniqueConstraint(fields=["claim"], condition=models.Q(is_current=True),
                                    name="one_current_settlement"),
        ]
        # One region index serves both equality and the prefix (LIKE '4306%') of scoping.
        indexes = [models.Index(fields=["region"], name="settlement_region", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.claim.claim_no} 第{self.version}版"

    @property
    def detail(self) -> dict:
        """The tier-by-tier explanation the settlement sheet prints (SettlementDetail)."""
        return json.loads(self.explanation.detail)


class SettlementDetail(models.Model):
    """The explanation of one settlement version: per tier base, deductible, ratio, bands, cap left, amount
    and the Chinese note, as the engine returned it. Kept beside the narrow settlement row, so retiring a
    version, loading a year for re-settlement and the statistics never read the 1–2 KB of text. Written once
    with its version, never changed; derived from the audited claim, policy and amounts, so not audited
    itself. Stored as JSON text: never queried inside the database, only shown, and text is written at a
    quarter of jsonb's cost (no parsing into the binary form, 300,000 times per re-settled year)."""

    settlement = models.OneToOneField(Settlement, models.CASCADE, primary_key=True, related_name="explanation",
                                      verbose_name="结算结果")
    detail = models.TextField("各档计算明细（JSON）")

    class Meta:
        verbose_name = verbose_name_plural = "结算明细"

    def __str__(self):
        return f"结算结果 {self.settlement_id} 的明细"


# ---- Fund supervision (DOMAIN §7): screening parameters and hits, cases, recoveries, evidence files -------

from django.core.exceptions import ValidationError  # noqa: E402

from .supervision.rules import PARAM_CHOICES, RULES, SEVERITIES, ParamError, default_severity, validate_params  # noqa: E402

RULE_CHOICES = {code: rule.label for code, rule in RULES.items()}


class SupervisionParam(models.Model):
    """The parameters and severity of one screening rule (or the penalty multiple) for a region and
    optionally one year. The most specific region wins; a year-specific row beats a row for all years;
    with no row, the defaults of DOMAIN §7.1 apply (claims.supervision.rules)."""

    code = models.CharField("规则", max_length=10, choices=PARAM_CHOICES.items())
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="适用区划")
    year = models.PositiveSmallIntegerField("适用年度", null=True, blank=True, help_text="空表示各年度通用")
    params = models.JSONField("参数", default=dict, blank=True, help_text="留空的参数取默认值")
    severity = models.CharField("风险等级", max_length=6, choices=SEVERITIES.items(), blank=True)
    enabled = models.BooleanField("启用", default=True)
    note = models.CharField("调整说明", max_length=200, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "基金监管规则参数"
        ordering = ["code", "region", "year"]
        constraints = [
            models.UniqueConstraint(fields=["code", "region", "year"], nulls_distinct=False,
                                    name="supervision_param_unique"),
        ]

    def __str__(self):
        return f"{self.get_code_display()}（{self.region_id}{'' if self.year is None else f' {self.year}年'}）"

    def clean(self):
        try:
            self.params = validate_params(self.code, self.params)
        except ParamError as exc:
            raise ValidationError({"params": str(exc)}) from None
        if self.code in RULES and not self.severity:
            self.severity = default_severity(self.code)
        if self.code not in RULES and self.severity:
            raise ValidationError({"severity": "处罚倍数参数没有风险等级"})


class ScreeningHit(models.Model):
    """One claim hitting one rule (at most once: unique per claim and rule), with the evidence. Written by
    claims.supervision.screening only, set-based; a hit that no longer holds is deleted, or marked resolved when a case
    refers to it."""

    STATUSES = {"active": "成立", "resolved": "已不成立"}

    claim = models.ForeignKey(Claim, models.CASCADE, related_name="screening_hits", verbose_name="结算单")
    rule = models.CharField("规则", max_length=3, choices=RULE_CHOICES.items())
    severity = models.CharField("风险等级", max_length=6, choices=SEVERITIES.items())
    evidence = models.JSONField("证据", default=dict)
    year = models.PositiveSmallIntegerField("结算年度")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="参保人所在区划")
    status = models.CharField("状态", max_length=8, choices=STATUSES.items(), default="active")
    found_at = models.DateTimeField("发现时间")
    checked_at = models.DateTimeField("最近筛查时间")
    resolved_at = models.DateTimeField("不再成立时间", null=True, blank=True)

    region_field = "region__code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "筛查疑点"
        ordering = ["-found_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["claim", "rule"], name="one_hit_per_claim_and_rule")]
        indexes = [
            models.Index(fields=["year", "rule"], name="hit_year_rule"),
            models.Index(fields=["region"], name="hit_region", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"{self.rule} {self.claim_id}"

    @property
    def evidence_claim_ids(self) -> list[int]:
        return [int(pk) for pk in (self.evidence or {}).get("claims") or []]


class ScreeningRun(models.Model):
    """One screening of whole years (the nightly beat run or a start from the supervision pages): when, who,
    progress and what it found. At most one is running (a partial unique index: the start lock);
    the worker holds locks.SCREENING_NIGHTLY while it runs, so a run a dead worker left is recognisable
    (claims.supervision.screening_runs). Figures only, no personal data: the permission alone decides who sees it."""

    STATUSES = {"running": "筛查中", "finished": "已完成", "failed": "失败"}

    years = models.JSONField("筛查年度", default=list)
    status = models.CharField("状态", max_length=8, choices=STATUSES.items(), default="running")
    triggered_by = models.CharField("发起方式", max_length=100, blank=True)
    task_id = models.CharField("执行任务", max_length=64, blank=True,
                               help_text="执行本次筛查的 Celery 任务；同一任务重复投递不再筛查")
    rules_done = models.PositiveSmallIntegerField("已完成规则数", default=0)
    rules_total = models.PositiveSmallIntegerField("规则总数", default=0)
    counts = models.JSONField("疑点统计", default=dict, help_text="年度 → 规则 → 命中结算单数")
    message = models.TextField("说明", blank=True)
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True, help_text="空：已发起，尚待后台任务开始")
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    region_field = ""
    objects = CityWideQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "筛查批次"
        ordering = ["-id"]
        permissions = [("run_screening", "可立即启动筛查")]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="running"),
                                    name="one_screening_run_at_a_time"),
        ]

    def __str__(self):
        return f"第{self.pk}次筛查（{'、'.join(str(y) for y in self.years)}年，{self.get_status_display()}）"

    @property
    def total_hits(self) -> int:
        return sum(sum(by_rule.values()) for by_rule in (self.counts or {}).values())

    @property
    def percent(self) -> int:
        return int(100 * self.rules_done / self.rules_total) if self.rules_total else 0


class Case(models.Model):
    """A supervision case (DOMAIN §7.2): open → investigating → confirmed / dismissed → recovering → closed.
    State changes go through claims.supervision.cases only (compare-and-set); the audit trail records each of them."""

    SOURCES = {"hit": "筛查疑点", "tip_off": "举报", "flight_inspection": "飞行检查", "petition": "信访"}
    STATES = {"open": "已立案", "investigating": "调查中", "confirmed": "已认定", "dismissed": "已排除",
              "recovering": "追缴中", "closed": "已结案"}
    TARGET_KINDS = {"hospital": "定点医疗机构", "pharmacy": "定点零售药店", "person": "参保人员"}

    title = models.CharField("案件名称", max_length=120)
    description = models.TextField("案情摘要", blank=True)
    source = models.CharField("案件来源", max_length=20, choices=SOURCES.items())
    state = models.CharField("状态", max_length=16, choices=STATES.items(), default="open")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所属区划")
    hits = models.ManyToManyField(ScreeningHit, through="CaseHit", related_name="cases", verbose_name="疑点")
    target_kind = models.CharField("处理对象类型", max_length=10, choices=TARGET_KINDS.items(), blank=True)
    target_hospital = models.ForeignKey(Hospital, models.PROTECT, null=True, blank=True, verbose_name="定点医疗机构")
    target_name = models.CharField("处理对象名称/姓名", max_length=100, blank=True)
    target_id_number = models.CharField("处理对象身份证号", max_length=18, blank=True)
    finding = models.TextField("调查结论", blank=True)
    amount_to_recover = models.DecimalField("应追回金额", default=0, **MONEY)
    penalty_multiple = models.DecimalField("处罚倍数", max_digits=4, decimal_places=2, null=True, blank=True)
    penalty_amount = models.DecimalField("罚款金额", default=0, **MONEY)
    recovered_amount = models.DecimalField("已追回金额", default=0, **MONEY)
    dismissal_reason = models.TextField("排除理由", blank=True)
    opened_by = models.ForeignKey(User, models.PROTECT, related_name="cases_opened", verbose_name="立案人")
    investigator = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="cases_investigated",
                                     verbose_name="调查人")
    reviewer = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="cases_reviewed",
                                 verbose_name="审核人")
    opened_at = models.DateTimeField("立案时间", auto_now_add=True)
    state_changed_at = models.DateTimeField("状态变更时间", auto_now_add=True)
    decided_at = models.DateTimeField("认定/排除时间", null=True, blank=True)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "基金监管案件"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=["open", "investigating", "confirmed", "dismissed",
                                                                 "recovering", "closed"]), name="case_state_valid"),
            models.CheckConstraint(condition=models.Q(amount_to_recover__gte=0, penalty_amount__gte=0,
                                                      recovered_amount__gte=0), name="case_amounts_not_negative"),
            models.CheckConstraint(condition=models.Q(recovered_amount__lte=models.F("amount_to_recover")
                                                      + models.F("penalty_amount")), name="case_not_overpaid"),
            models.CheckConstraint(condition=~models.Q(state="dismissed", dismissal_reason=""),
                                   name="case_dismissal_has_reason"),
        ]
        indexes = [models.Index(fields=["region"], name="case_region", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"JG{self.opened_at:%Y}{self.pk:06d}" if self.pk and self.opened_at else "（未立案）"

    @property
    def amount_due(self):
        return self.amount_to_recover + self.penalty_amount

    @property
    def balance(self):
        return self.amount_due - self.recovered_amount


class CaseHit(models.Model):
    case = models.ForeignKey(Case, models.CASCADE, related_name="case_hits", verbose_name="案件")
    hit = models.ForeignKey(ScreeningHit, models.PROTECT, related_name="case_links", verbose_name="疑点")

    region_field = "case__region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "案件疑点"
        constraints = [models.UniqueConstraint(fields=["case", "hit"], name="case_hit_unique")]

    def __str__(self):
        return f"{self.case_id}/{self.hit_id}"


class CaseEvent(models.Model):
    """The case's own timeline (who did which transition, with the note), beside the audit trail."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="events", verbose_name="案件")
    action = models.CharField("操作", max_length=20)
    from_state = models.CharField("原状态", max_length=16, blank=True, choices=Case.STATES.items())
    to_state = models.CharField("新状态", max_length=16, choices=Case.STATES.items())
    note = models.TextField("说明", blank=True)
    user = models.ForeignKey(User, models.PROTECT, verbose_name="操作人")
    at = models.DateTimeField("时间", auto_now_add=True)

    region_field = "case__region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "案件办理记录"
        ordering = ["at", "id"]

    def __str__(self):
        if self.from_state == self.to_state:
            return f"{self.action}（{self.get_to_state_display()}）"
        return f"{self.action} {self.get_from_state_display() or '—'}→{self.get_to_state_display()}"


class Recovery(models.Model):
    """A payment recovered on a confirmed case (追回 / 罚款到账)."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="recoveries", verbose_name="案件")
    amount = models.DecimalField("到账金额", **MONEY)
    paid_on = models.DateField("到账日期")
    payer = models.CharField("缴款单位/个人", max_length=100, blank=True)
    receipt_no = models.CharField("票据号", max_length=60, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    entered_by = models.ForeignKey(User, models.PROTECT, verbose_name="录入人")
    entered_at = models.DateTimeField("录入时间", auto_now_add=True)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="区划")

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "追回款"
        ordering = ["paid_on", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="recovery_amount_positive")]

    def __str__(self):
        return f"{self.paid_on} ¥{self.amount}"


class CaseAttachment(models.Model):
    """An evidence file of a case, stored under MEDIA_ROOT and served only through the scoped case page."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="attachments", verbose_name="案件")
    file = models.FileField("文件", upload_to="supervision/%Y/%m/", max_length=255)
    name = models.CharField("文件名", max_length=200)
    size = models.PositiveIntegerField("字节数")
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(User, models.PROTECT, verbose_name="上传人")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    region_field = "case__region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "案件证据材料"
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.name



from .settlement.models import CountyIncome, PersonYearTotal, ResettleRun  # noqa: E402,F401
