"""Enrolment in resident medical insurance (参保), premium subsidies (资助参保) and their reports."""
from django.db import models

from poverty_registry.models import Person, Region, User
from poverty_registry.scoping import RegionScopedManager
from poverty_registry.vocab import CATEGORIES, ENROLMENT_STATUSES


class Enrolment(models.Model):
    """One person's enrolment for one insurance (calendar) year, as the tax/insurance system reports it."""

    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    year = models.PositiveSmallIntegerField("参保年度")
    status = models.CharField("参保状态", max_length=12, choices=ENROLMENT_STATUSES.items())
    paid_date = models.DateField("缴费日期", null=True, blank=True)
    # Every code is checked against the region table where rows come in (the importer's set of known codes,
    # the admin form's choice) and the ORM PROTECTs regions in use; a database check per row would cost the
    # import of 200,000 rows 0.7 s at commit, a sixth of its time, so the reference is not declared to it.
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="参保地区划", db_index=False,
                               db_constraint=False)
    person = models.ForeignKey(Person, models.SET_NULL, null=True, blank=True, related_name="enrolments",
                               verbose_name="建档立卡人员", db_constraint=False)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "参保记录"
        ordering = ["-year", "id_number"]
        constraints = [models.UniqueConstraint(fields=["id_number", "year"], name="one_enrolment_per_person_year")]
        indexes = [
            models.Index(fields=["year", "status"], name="enrolment_year_status"),
            # the one region index: equality and the prefix of scoping
            models.Index(fields=["region"], name="enrolment_region", opclasses=["varchar_pattern_ops"]),
            # The enrolment-rate page: only the registered persons' enrolments, found by person.
            models.Index(fields=["year", "person"], name="enrolment_year_person_enrolled",
                         condition=models.Q(status="enrolled", person__isnull=False)),
        ]

    def __str__(self):
        return f"{self.name} {self.year}年 {self.get_status_display()}"

    @property
    def is_enrolled(self) -> bool:
        return self.status == "enrolled"


MONEY = {"max_digits": 14, "decimal_places": 2}
RULE_KINDS = {"percent": "按保费比例", "fixed": "定额", "none": "不资助"}


class SubsidyPolicy(models.Model):
    """One version of the premium and subsidy rules (DOMAIN §5) for an insurance year and a region.

    A change is a new row with the next version; the old row stays as it was, so subsidy lines and issued
    reports keep the figures of the version they were computed with. The most specific region wins.
    """

    year = models.PositiveSmallIntegerField("参保年度")
    # No database constraint: the defaults are loaded by a migration, before any region is.
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="适用区划", db_constraint=False)
    version = models.PositiveIntegerField("版本", default=1, editable=False)
    premium = models.DecimalField("个人缴费标准（元/人）", **MONEY)
    cutoff_date = models.DateField("资助身份认定截止日", help_text="按该日所持人员类别确定资助；默认上一年12月31日")
    # {"<category code>": {"kind": "percent" | "fixed" | "none", "value": "50", "fund": "医疗救助资金"}}
    rules = models.JSONField("各类别资助标准", default=dict)
    in_force = models.BooleanField("现行有效", default=True, editable=False)
    note = models.CharField("调整说明", max_length=200, blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, verbose_name="制定人", editable=False)
    created_at = models.DateTimeField("制定时间", auto_now_add=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "资助参保政策参数"
        ordering = ["-year", "region", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["year", "region", "version"], name="subsidy_policy_version_unique"),
            models.UniqueConstraint(fields=["year", "region"], condition=models.Q(in_force=True),
                                    name="one_subsidy_policy_in_force"),
            models.CheckConstraint(condition=models.Q(premium__gte=0), name="subsidy_policy_premium_positive"),
        ]

    def __str__(self):
        return f"{self.year}年 {self.region.name} 资助政策 第{self.version}版"

    def rule(self, category: str) -> dict:
        return self.rules.get(category) or {"kind": "none", "value": "0", "fund": ""}

    def subsidy_for(self, category: str):
        from .subsidy_rules import subsidy_amount

        rule = self.rule(category)
        return subsidy_amount(self.premium, rule["kind"], rule.get("value") or "0")


class SubsidyRun(models.Model):
    """One computation of a year's subsidies: what it found and what changed since the run before."""

    year = models.PositiveSmallIntegerField("参保年度")
    scope = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, verbose_name="计算范围")
    user = models.ForeignKey(User, models.PROTECT, null=True, blank=True, verbose_name="操作人")
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True)
    persons = models.PositiveIntegerField("资助人数", default=0)
    total_subsidy = models.DecimalField("资助总额", default=0, **MONEY)
    added = models.PositiveIntegerField("新增", default=0)
    changed = models.PositiveIntegerField("变更", default=0)
    removed = models.PositiveIntegerField("取消", default=0)
    unchanged = models.PositiveIntegerField("未变", default=0)

    region_field = "scope__code"
    audited = True  # each computation is in the audit trail: who, when, from where, scope and counts
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "资助计算记录"
        ordering = ["-id"]

    def __str__(self):
        return f"{self.year}年资助计算 #{self.pk}"


class SubsidyLine(models.Model):
    """A line of the subsidy ledger (资助明细): one person, one year, the category that applied.

    Written only by the computation (enrollment.subsidies). Like all money it is in the hash-chained audit
    trail; the run's SubsidyChange rows are the bureau's view of what one computation changed.
    """

    # No index of its own: one_subsidy_line_per_person_year (person, year) serves lookups by person.
    person = models.ForeignKey(Person, models.PROTECT, related_name="subsidy_lines", verbose_name="人员",
                               db_index=False)
    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    year = models.PositiveSmallIntegerField("参保年度")
    category = models.CharField("资助类别", max_length=20, choices=CATEGORIES.items())
    premium = models.DecimalField("个人缴费标准", **MONEY)
    subsidy = models.DecimalField("资助金额", **MONEY)
    fund = models.CharField("资金来源", max_length=60)
    # Policy and village are taken in the same statement from rows that exist and are never deleted (the
    # ORM PROTECTs them); a database check per line of references to a handful of rows costs 1.3 s per
    # computation of a city, so those two are not declared to the database. The person's is.
    policy = models.ForeignKey(SubsidyPolicy, models.PROTECT, verbose_name="所用政策版本", db_constraint=False)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）", db_index=False,
                               db_constraint=False)
    computed_at = models.DateTimeField("计算时间")

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "资助明细"
        ordering = ["-year", "region", "id_number"]
        constraints = [
            models.UniqueConstraint(fields=["person", "year"], name="one_subsidy_line_per_person_year"),
            models.CheckConstraint(condition=models.Q(subsidy__gt=0) & models.Q(subsidy__lte=models.F("premium")),
                                   name="subsidy_within_premium"),
        ]
        indexes = [models.Index(fields=["year", "region"], name="subsidy_line_year_region"),
                   models.Index(fields=["region"], name="subsidy_line_region", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.name} {self.year}年 {self.subsidy}元"


class SubsidyChange(models.Model):
    """A difference a run found against the lines before it (新增 / 变更 / 取消): the line-level audit of the
    subsidy ledger. Append-only (database trigger).

    Written only by the computation, a row per line it writes (300,000 on a city's first run), with values
    copied from rows the database has already checked (the run it just created, the lines' and persons'
    villages): like the person, run and region carry no foreign-key constraint, whose per-row checks at
    commit cost more than writing the change itself. Read by run only, so run is the one index.
    """

    KINDS = {"added": "新增", "changed": "变更", "removed": "取消"}

    run = models.ForeignKey(SubsidyRun, models.CASCADE, related_name="changes", verbose_name="计算记录",
                            db_constraint=False)
    person = models.ForeignKey(Person, models.DO_NOTHING, db_constraint=False, db_index=False, verbose_name="人员")
    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    kind = models.CharField("变化", max_length=8, choices=KINDS.items())
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）", db_constraint=False,
                               db_index=False)
    old_region = models.CharField("原所在村", max_length=12, blank=True)
    old_category = models.CharField("原类别", max_length=20, blank=True, choices=CATEGORIES.items())
    new_category = models.CharField("新类别", max_length=20, blank=True, choices=CATEGORIES.items())
    old_subsidy = models.DecimalField("原资助金额", null=True, **MONEY)
    new_subsidy = models.DecimalField("新资助金额", null=True, **MONEY)
    old_policy = models.BigIntegerField("原政策版本ID", null=True)
    new_policy = models.BigIntegerField("新政策版本ID", null=True)

    region_field = "region__code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "资助变化"
        ordering = ["run", "region", "id_number"]

    def __str__(self):
        return f"{self.name} {self.get_kind_display()}"


class SubsidyReport(models.Model):
    """An issued report (报表存根): frozen lines, serial number, issuer, time and SHA-256 of the lines."""

    serial_no = models.CharField("存根号", max_length=40, unique=True)
    year = models.PositiveSmallIntegerField("参保年度")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="报表区划")
    issued_by = models.ForeignKey(User, models.PROTECT, verbose_name="出具人")
    issued_at = models.DateTimeField("出具时间", auto_now_add=True)
    persons = models.PositiveIntegerField("资助人数")
    total_subsidy = models.DecimalField("资助总额", **MONEY)
    checksum = models.CharField("明细校验值（SHA-256）", max_length=64)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "资助报表存根"
        ordering = ["-issued_at"]

    def __str__(self):
        return f"{self.serial_no}（{self.year}年 {self.region.name}）"


class SubsidyReportLine(models.Model):
    """A subsidy line as it stood when its report was issued. Never updated or deleted (database trigger)."""

    report = models.ForeignKey(SubsidyReport, models.PROTECT, related_name="lines", verbose_name="报表")
    person_id = models.BigIntegerField("人员ID")
    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    region_code = models.CharField("所在村（社区）代码", max_length=12)
    category = models.CharField("资助类别", max_length=20, choices=CATEGORIES.items())
    premium = models.DecimalField("个人缴费标准", **MONEY)
    subsidy = models.DecimalField("资助金额", **MONEY)
    fund = models.CharField("资金来源", max_length=60)
    policy_id = models.BigIntegerField("政策ID")
    policy_version = models.PositiveIntegerField("政策版本")

    region_field = "region_code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "报表存根明细"
        ordering = ["report", "id_number"]
        constraints = [models.UniqueConstraint(fields=["report", "person_id"], name="report_line_once_per_person")]

    def __str__(self):
        return f"{self.report_id}: {self.name} {self.subsidy}"


CHASE_STATUSES = {
    "new": "待跟进", "contacted": "已联系", "promised": "承诺参保", "enrolled_elsewhere": "已在外地参保",
    "refused": "拒绝参保", "unreachable": "无法联系", "deceased": "已死亡", "other": "其他",
}


class ChaseEntry(models.Model):
    """The township's work status for one registered person not (yet) enrolled for a year (动员参保)."""

    person = models.ForeignKey(Person, models.CASCADE, related_name="chase_entries", verbose_name="人员")
    year = models.PositiveSmallIntegerField("参保年度")
    status = models.CharField("跟进状态", max_length=20, choices=CHASE_STATUSES.items(), default="new")
    note = models.CharField("备注", max_length=200, blank=True)
    updated_by = models.ForeignKey(User, models.PROTECT, null=True, verbose_name="跟进人")
    updated_at = models.DateTimeField("跟进时间", auto_now=True)

    region_field = "person__region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "参保动员跟进"
        ordering = ["-year", "person"]
        constraints = [models.UniqueConstraint(fields=["person", "year"], name="one_chase_entry_per_person_year")]

    def __str__(self):
        return f"{self.person_id} {self.year}年 {self.get_status_display()}"
