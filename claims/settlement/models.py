"""Models of one-stop settlement beyond the claim and its versions: county income for the §9 threshold,
the year-to-date totals that make the risk warning list, and batch re-settlement runs with their progress.

Imported at the bottom of claims.models so Django registers them in the claims app.
"""
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from poverty_registry.models import Person, Region, User
from poverty_registry.scoping import RegionScopedManager

from ..models import MONEY, PolicySet
from .engine import CATEGORY_NAMES, SETTLED_CATEGORIES


class CountyIncome(models.Model):
    """农村居民人均可支配收入 of a county for one year: 50 % of last year's is a §9 threshold candidate."""

    region = models.ForeignKey(Region, models.PROTECT, verbose_name="县（区）")
    year = models.PositiveSmallIntegerField("年度")
    amount = models.DecimalField("农村居民人均可支配收入（元）", **MONEY)
    source = models.CharField("数据来源", max_length=100, blank=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "县域农村居民人均可支配收入"
        ordering = ["-year", "region"]
        constraints = [
            models.UniqueConstraint(fields=["region", "year"], name="county_income_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="county_income_positive"),
        ]

    def __str__(self):
        return f"{self.region_id} {self.year}年 {self.amount}元"


class PersonYearTotal(models.Model):
    """A person's year-to-date totals after all tiers (current settlement versions), rewritten on every
    settlement of the person-year; at_risk puts the person on the §9 warning list."""

    id_number = models.CharField("身份证号", max_length=18)
    year = models.PositiveSmallIntegerField("年度")
    name = models.CharField("姓名", max_length=50)
    person = models.ForeignKey(Person, models.SET_NULL, null=True, blank=True, db_constraint=False,
                               related_name="year_totals", verbose_name="建档立卡人员")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="参保人所在区划", db_index=False)
    category = models.CharField("适用人员类别", max_length=20, blank=True, choices=SETTLED_CATEGORIES.items())
    claim_count = models.PositiveIntegerField("就诊人次")
    total_cost = models.DecimalField("医疗总费用累计", **MONEY)
    reimbursed = models.DecimalField("各档报销累计", **MONEY)
    self_pay = models.DecimalField("个人自付累计", **MONEY)
    threshold = models.DecimalField("预警线", **MONEY)
    at_risk = models.BooleanField("因病返贫致贫风险", default=False)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "年度个人负担累计"
        ordering = ["-self_pay"]
        constraints = [models.UniqueConstraint(fields=["id_number", "year"], name="person_year_total_unique")]
        indexes = [
            models.Index(fields=["year", "at_risk", "region"], name="person_year_risk"),
            models.Index(fields=["region"], name="person_year_region", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"{self.name} {self.year}年 自付{self.self_pay}元"

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.category, "非贫困人口")


class ResettleRun(models.Model):
    """A batch re-settlement of one year in one region (a Celery job): progress and its chunks.

    The persons are split into chunks (ResettleChunk) that workers take in parallel; each chunk commits
    with its results, so a crashed run continues with the chunks not done and never settles a person twice.
    Each chunk refreshes `heartbeat_at`; beat's `resettle.recover` queues again a run left without progress
    (claims.settlement.services.abandoned_resettle_runs).
    """

    STATUSES = {"queued": "排队中", "running": "结算中", "done": "已完成", "failed": "失败"}

    year = models.PositiveSmallIntegerField("结算年度")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="结算区划")
    policy = models.ForeignKey(PolicySet, models.PROTECT, null=True, blank=True, verbose_name="触发的政策版本")
    reason = models.CharField("重算原因", max_length=60)
    status = models.CharField("状态", max_length=8, choices=STATUSES.items(), default="queued")
    persons_total = models.PositiveIntegerField("人数", default=0)
    persons_done = models.PositiveIntegerField("已处理人数", default=0)
    claims_done = models.PositiveIntegerField("已处理单据", default=0)
    settlements_written = models.PositiveIntegerField("新结算版本", default=0)
    paid_difference = models.DecimalField("应补付（负数为应追回）合计", default=0, **MONEY)
    message = models.TextField("说明", blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, verbose_name="发起人")
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField("最近进展", default=timezone.now,
                                        help_text="租约：超时无进展且无人处理时由定时任务接续")

    region_field = "region__code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "年度批量重算"
        ordering = ["-id"]

    def __str__(self):
        return f"{self.year}年 {self.region_id} 批量重算（{self.get_status_display()}）"

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.persons_done / self.persons_total) if self.persons_total else 0


class ResettleChunk(models.Model):
    """Persons of one batch run settled in one transaction by whichever worker takes the chunk first.

    A chunk holds persons of one lock bucket (claims.settlement.services.bucket_of), so two workers never wait for
    each other's persons, and a claim arriving meanwhile waits only for the chunk of its own bucket."""

    run = models.ForeignKey(ResettleRun, models.CASCADE, related_name="chunks", verbose_name="批量重算")
    seq = models.PositiveIntegerField("序号")
    bucket = models.PositiveSmallIntegerField("锁分组")
    id_numbers = ArrayField(models.CharField(max_length=18), verbose_name="身份证号")
    done = models.BooleanField("已完成", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "批量重算分块"
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="resettle_chunk_seq")]

    def __str__(self):
        return f"{self.run_id}#{self.seq}"
