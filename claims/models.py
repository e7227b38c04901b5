"""Claims, settlement and fund supervision; and the audit trail that every app writes through triggers."""
from django.db import models

from poverty_registry.models import Person, Region, User
from poverty_registry.scoping import RegionScopedManager

from .settlement import HOSPITAL_LEVEL_LABELS, TIER_CODES, TIER_NAMES, VISIT_TYPE_LABELS

HOSPITAL_LEVELS = {code: label for label, code in HOSPITAL_LEVEL_LABELS.items()}
VISIT_TYPES = {code: label for label, code in VISIT_TYPE_LABELS.items()}
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

    claim = models.ForeignKey(Claim, models.CASCADE, related_name="settlements", verbose_name="结算单")
    version = models.PositiveIntegerField("版本")
    is_current = models.BooleanField("当前版本", default=True)
    policy = models.ForeignKey(PolicySet, models.PROTECT, null=True, verbose_name="所用政策")
    category = models.CharField("适用人员类别", max_length=20, blank=True)
    enrolled = models.BooleanField("当年参保")
    basic = models.DecimalField(TIER_NAMES["basic"], **MONEY)
    critical = models.DecimalField(TIER_NAMES["critical"], **MONEY)
    assistance = models.DecimalField(TIER_NAMES["assistance"], **MONEY)
    hospital_waiver = models.DecimalField(TIER_NAMES["hospital_waiver"], **MONEY)
    special_insurance = models.DecimalField(TIER_NAMES["special_insurance"], **MONEY)
    backstop = models.DecimalField(TIER_NAMES["backstop"], **MONEY)
    self_pay = models.DecimalField("个人自付", **MONEY)
    detail = models.JSONField("各档计算明细")
    reason = models.CharField("结算原因", max_length=60, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="区划")
    settled_at = models.DateTimeField("结算时间", auto_now_add=True)

    region_field = "region__code"
    audited = True
    audit_exclude = ("detail",)  # the explanation is derived from the audited claim, policy and amounts
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

    def __str__(self):
        return f"{self.claim.claim_no} 第{self.version}版"


class AuditRecord(models.Model):
    """One changed row. Written only by PostgreSQL triggers (claims.audit), never by the application."""

    ACTIONS = {"INSERT": "新增", "UPDATE": "修改", "DELETE": "删除"}

    at = models.DateTimeField("时间", db_index=True)
    table_name = models.CharField("数据表", max_length=80)
    object_pk = models.CharField("对象主键", max_length=40)
    action = models.CharField("操作", max_length=6, choices=ACTIONS.items())
    before = models.JSONField("修改前", null=True)
    after = models.JSONField("修改后", null=True)
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True)
    ip = models.CharField("IP地址", max_length=45, blank=True)
    source = models.CharField("来源", max_length=60, blank=True)
    region_code = models.CharField("区划", max_length=12, blank=True)
    row_hash = models.BinaryField("本条哈希")
    chain_hash = models.BinaryField("链哈希")

    region_field = "region_code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "审计记录"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["table_name", "object_pk"], name="audit_object"),
            models.Index(fields=["actor_username", "at"], name="audit_actor"),
            models.Index(fields=["region_code"], name="audit_region", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.table_name}#{self.object_pk}"

    def changed_fields(self) -> list[tuple[str, object, object]]:
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
