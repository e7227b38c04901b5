"""The registry: regions, staff accounts, and the ledger of registered poor households and persons."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from . import regions as region_codes
from .idnumber import IdNumberError, mask_id_number, parse_id_number
from .scoping import RegionScopedManager, RegionScopedQuerySet
from .vocab import CATEGORIES, HEAD_RELATION, IMPORT_KINDS, POVERTY_STATUSES, REGION_LEVELS, ROLES, SEXES


class Region(models.Model):
    code = models.CharField("区划代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=60)
    level = models.PositiveSmallIntegerField("级别", choices=REGION_LEVELS.items(), editable=False)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name="上级区划", editable=False)

    region_field = "code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "行政区划"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    def clean(self):
        try:
            self.code = region_codes.canonical_code(self.code)
        except region_codes.RegionCodeError as exc:
            raise ValidationError({"code": str(exc)}) from None
        parent = region_codes.parent_code(self.code)
        if parent and not Region.objects.filter(code=parent).exists():
            raise ValidationError({"code": f"上级区划 {parent} 不存在，请先建立上级区划"})

    def save(self, *args, **kwargs):
        self.level = region_codes.level_of(self.code)
        self.parent_id = region_codes.parent_code(self.code)
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))


class StaffManager(UserManager.from_queryset(RegionScopedQuerySet)):
    pass


class User(AbstractUser):
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, verbose_name="所属区划",
                               help_text="账号只能查看和办理该区划及其下级的数据")
    role = models.CharField("角色", max_length=20, choices=ROLES.items(), blank=True)

    region_field = "region__code"
    audited = True
    objects = StaffManager()

    class Meta:
        verbose_name = verbose_name_plural = "工作人员账号"

    def __str__(self):
        return f"{self.get_full_name() or self.username}（{self.username}）"

    @property
    def may_see_full_id(self) -> bool:
        return self.has_perm("poverty_registry.view_full_id_number")


class Household(models.Model):
    household_no = models.CharField("户编号", max_length=30)  # unique by a constraint: see Person.id_number
    # One region index (below) serves equality and the prefix of scoping; no second one to write per row.
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）", db_index=False)
    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "建档立卡户"
        ordering = ["household_no"]
        constraints = [models.UniqueConstraint(fields=["household_no"], name="household_no_unique",
                                               violation_error_message="该户编号已存在")]
        indexes = [models.Index(fields=["region"], name="household_region", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return f"户 {self.household_no}"


class Person(models.Model):
    # Unique by a constraint, not unique=True: the field option would add a second (LIKE) index that no
    # search uses (an ID number is looked up whole), written for every imported person.
    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    sex = models.CharField("性别", max_length=1, choices=SEXES.items(), editable=False)
    birth_date = models.DateField("出生日期", editable=False)
    household = models.ForeignKey(Household, models.PROTECT, related_name="members", verbose_name="所在户")
    relation = models.CharField("与户主关系", max_length=20, blank=True)
    is_head = models.BooleanField("是否户主", default=False, editable=False)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）", db_index=False)
    poverty_status = models.CharField("脱贫状态", max_length=12, choices=POVERTY_STATUSES.items(), blank=True)
    phone = models.CharField("联系电话", max_length=30, blank=True)
    death_date = models.DateField("死亡日期", null=True, blank=True)
    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "建档立卡人员"
        ordering = ["id"]
        permissions = [("view_full_id_number", "可查看完整身份证号")]
        constraints = [
            models.UniqueConstraint(fields=["id_number"], name="person_id_number_unique",
                                    violation_error_message="该身份证号已登记"),
            models.UniqueConstraint(fields=["household"], condition=Q(is_head=True), name="one_head_per_household"),
            models.CheckConstraint(condition=Q(sex__in=list(SEXES)), name="person_sex_valid"),
        ]
        indexes = [
            models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"]),
            # equality and the prefix of scoping (LIKE '430621%') on region, then id for paging
            models.Index(fields=["region", "id"], name="person_region_prefix",
                         opclasses=["varchar_pattern_ops", "int8_ops"]),
        ]

    def __str__(self):
        return f"{self.name}（{mask_id_number(self.id_number)}）"

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    def clean(self):
        try:
            parsed = parse_id_number(self.id_number)
        except IdNumberError as exc:
            raise ValidationError({"id_number": f"身份证号：{exc}"}) from None
        self.id_number, self.birth_date, self.sex = parsed.number, parsed.birth_date, parsed.sex
        if self.household_id and self.region_id and self.household.region_id != self.region_id:
            raise ValidationError({"region": "人员所在村须与所在户一致"})

    def save(self, *args, **kwargs):
        parsed = parse_id_number(self.id_number)
        self.id_number, self.birth_date, self.sex = parsed.number, parsed.birth_date, parsed.sex
        self.is_head = self.relation.strip() == HEAD_RELATION
        super().save(*args, **kwargs)

    def categories_on(self, day: dt.date) -> list[str]:
        return list(self.categories.held_on(day).values_list("category", flat=True))


class PersonCategoryQuerySet(RegionScopedQuerySet):
    def held_on(self, day: dt.date):
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day)


class PersonCategory(models.Model):
    SOURCES = {"ledger": "台账导入", "manual": "手工录入", "civil_affairs": "民政比对确认", "seed": "演示数据"}

    person = models.ForeignKey(Person, models.CASCADE, related_name="categories", verbose_name="人员")
    category = models.CharField("人员类别", max_length=20, choices=CATEGORIES.items())
    valid_from = models.DateField("起始日期")
    valid_to = models.DateField("终止日期", null=True, blank=True, help_text="空表示至今仍享有")
    source = models.CharField("来源", max_length=20, choices=SOURCES.items(), default="manual")

    region_field = "person__region__code"
    audited = True
    objects = PersonCategoryQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "人员类别"
        ordering = ["person", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                                   name="category_dates_ordered"),
        ]
        # Spans of one category of one person never overlap: enforced in the database by the statement
        # triggers of poverty_registry migration 0007, for every writer; clean() says it in a form.

    def clean(self):
        super().clean()
        if self.person_id is None or not self.category or self.valid_from is None:
            return
        others = PersonCategory.objects.filter(person_id=self.person_id, category=self.category).exclude(pk=self.pk)
        if self.valid_to is not None:
            others = others.filter(valid_from__lte=self.valid_to)
        clash = others.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=self.valid_from)).first()
        if clash is not None:
            raise ValidationError(f"该人员的{self.get_category_display()}与已有时段（{clash}）重叠")

    def __str__(self):
        end = self.valid_to.isoformat() if self.valid_to else "至今"
        return f"{self.get_category_display()} {self.valid_from.isoformat()}～{end}"


class ImportFile(models.Model):
    """An uploaded file, kept by content hash so preview and confirm read exactly the same bytes."""

    sha256 = models.CharField("SHA-256", max_length=64, primary_key=True)
    content = models.BinaryField("内容")
    size = models.PositiveIntegerField("字节数")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "上传文件"

    def __str__(self):
        return f"{self.sha256[:12]}（{self.size} 字节）"


class ImportRun(models.Model):
    """One upload through the import framework (poverty_registry.importing): preview, then confirm."""

    STATUSES = {
        "previewing": "预览中", "previewed": "待确认", "importing": "导入中", "imported": "已导入",
        "failed": "失败", "stale": "已失效（预览后数据有变化）", "cancelled": "已取消",
        "interrupted": "已中断（可重试）",
    }
    RUNNING = ("previewing", "importing")  # held by a process, under a lease (poverty_registry.import_leases)

    kind = models.CharField("导入类型", max_length=20, choices=IMPORT_KINDS.items())
    file_name = models.CharField("文件名", max_length=255)
    file = models.ForeignKey(ImportFile, models.PROTECT, verbose_name="文件", related_name="runs")
    user = models.ForeignKey(User, models.PROTECT, verbose_name="上传人")
    region = models.ForeignKey(Region, models.PROTECT, null=True, verbose_name="上传人辖区")
    status = models.CharField("状态", max_length=12, choices=STATUSES.items(), default="previewing")
    rows_read = models.PositiveIntegerField("读取行数", default=0)
    rows_rejected = models.PositiveIntegerField("拒绝行数", default=0)
    preview_counts = models.JSONField("预览统计", default=dict)
    result_counts = models.JSONField("导入结果", default=dict)
    errors = models.JSONField("错误（前1000条）", default=list)
    error_count = models.PositiveIntegerField("错误条数", default=0)
    message = models.TextField("说明", blank=True)
    background = models.BooleanField("后台任务", default=False)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    previewed_at = models.DateTimeField("预览完成", null=True)
    finished_at = models.DateTimeField("导入完成", null=True)
    # A running preview or confirm holds a lease its process renews; a dead process's run expires and may be
    # retried. Each start (preview, confirm, retry) is a new attempt: a task of an earlier one does nothing.
    lease_until = models.DateTimeField("租约到期", null=True, blank=True)
    attempt = models.PositiveIntegerField("处理次数", default=0)

    region_field = "region__code"
    audited = True
    audit_exclude = ("lease_until",)  # renewed every few seconds: no audit record, no wait for the chain lock
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "导入记录"
        ordering = ["-id"]

    def __str__(self):
        return f"{self.file_name}（{self.get_status_display()}）"


# --- Cross-department matching (比对, DOMAIN §8); the logic lives in poverty_registry/matching/ ------------

from .matching.vocab import (  # noqa: E402
    DIFFERENCES,
    FILE_STATUSES,
    ITEM_STATUSES,
    LINK_STATUSES,
    OPEN_STATUSES,
    RUN_STATUSES,
    SOURCES,
)


class CityWideQuerySet(RegionScopedQuerySet):
    """Job records that span the whole city and hold no personal data: the permission alone decides.

    Their per-township figures (MatchingRunCount) and everything about persons are region-scoped.
    """

    def restrict(self, user, action: str | None = "view"):
        from .scoping import region_scope

        model = self.model
        if region_scope(user).is_empty:
            return self.none()
        if action and not user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}"):
            return self.none()
        return self


class MatchingRun(models.Model):
    """One matching run: its date (the insurance year of which is "current"), files, phase and report."""

    PHASES = {"started": "已开始", "prepared": "名单已载入、关联已完成", "finished": "已结束"}

    run_date = models.DateField("比对日期")
    inbox = models.CharField("收件目录", max_length=500)
    status = models.CharField("状态", max_length=10, choices=RUN_STATUSES.items(), default="running")
    phase = models.CharField("阶段", max_length=10, choices=PHASES.items(), default="started")
    triggered_by = models.CharField("发起方式", max_length=100, blank=True)
    current_files = models.JSONField("参与比对的名单文件", default=dict, help_text="来源 → 文件编号")
    files = models.JSONField("本次处理的文件", default=list)
    counts = models.JSONField("差异统计", default=dict)
    links_proposed = models.PositiveIntegerField("新提出的疑似关联", default=0)
    message = models.TextField("说明", blank=True)
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField("最近进展", default=timezone.now,
                                        help_text="租约：超时无进展且无人处理时由定时任务接续")
    task_id = models.CharField("发起任务", max_length=64, blank=True,
                               help_text="开始本次比对的 Celery 任务；同一任务重复投递不再开始新的比对")

    region_field = ""
    objects = CityWideQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "比对批次"
        ordering = ["-id"]
        constraints = [
            # The lock: at most one run is running at any time (DOMAIN §8.3).
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"),
                                    name="one_matching_run_at_a_time"),
        ]

    def __str__(self):
        return f"第{self.pk}次比对（{self.run_date}，{self.get_status_display()}）"


class MatchingShard(models.Model):
    """One county's part of a run: done at most once, in one transaction, by whichever worker gets it."""

    STATUSES = {"pending": "待处理", "done": "已完成", "failed": "失败"}

    run = models.ForeignKey(MatchingRun, models.CASCADE, related_name="shards", verbose_name="比对批次")
    county = models.CharField("县（区）代码", max_length=12, blank=True, help_text="空：不属于任何县的事项")
    status = models.CharField("状态", max_length=10, choices=STATUSES.items(), default="pending")
    counts = models.JSONField("差异统计", default=dict, help_text="乡镇代码 → 差异代码 → 条数")
    opened = models.PositiveIntegerField("新增事项", default=0)
    closed = models.PositiveIntegerField("自动关闭事项", default=0)
    message = models.TextField("说明", blank=True)
    done_by = models.CharField("执行者", max_length=100, blank=True, help_text="完成该分片的 Celery 工作进程")
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    region_field = "county"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "比对分片"
        constraints = [models.UniqueConstraint(fields=["run", "county"], name="one_shard_per_run_county")]

    def __str__(self):
        return f"{self.run_id}/{self.county or '其他'}"


class MatchingRunCount(models.Model):
    """A run's count of one difference in one township (the run report)."""

    run = models.ForeignKey(MatchingRun, models.CASCADE, related_name="township_counts", verbose_name="比对批次")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="乡镇（街道）")
    code = models.CharField("差异", max_length=3, choices=DIFFERENCES.items())
    count = models.PositiveIntegerField("条数")

    region_field = "region__code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "比对差异统计"
        ordering = ["run", "region", "code"]
        constraints = [models.UniqueConstraint(fields=["run", "region", "code"], name="one_count_per_run_region_code")]

    def __str__(self):
        return f"{self.run_id}/{self.region_id}/{self.code}: {self.count}"


class MatchingSourceFile(models.Model):
    """A department's list file, processed once (by content hash): loaded as a dated snapshot, or refused."""

    source = models.CharField("来源", max_length=16, choices=SOURCES.items())
    file_name = models.CharField("文件名", max_length=255)
    sha256 = models.CharField("SHA-256", max_length=64)
    as_of = models.DateField("名单日期")
    status = models.CharField("状态", max_length=10, choices=FILE_STATUSES.items())
    rows = models.PositiveIntegerField("行数", default=0)
    message = models.TextField("错误说明", blank=True)
    run = models.ForeignKey(MatchingRun, models.SET_NULL, null=True, related_name="loaded_files",
                            verbose_name="载入批次")
    loaded_at = models.DateTimeField("处理时间", auto_now_add=True)

    region_field = ""
    objects = CityWideQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "比对名单文件"
        ordering = ["source", "-as_of", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "sha256"], name="matching_file_once")]

    def __str__(self):
        return f"{self.get_source_display()} {self.file_name}（{self.as_of}）"


class MatchingRecord(models.Model):
    """One row of a department's list as it stood in its file (snapshot rows are written with COPY, never changed).

    `id_number` is the best 18-character form (normalised when valid, converted when 15 digits, else as written);
    `match_key` is what links carry: the normalised number when valid, else the number as written (cleaned).
    """

    ID_STATUSES = {"valid": "有效", "legacy15": "15位旧号码", "invalid": "校验不通过"}

    file = models.ForeignKey(MatchingSourceFile, models.CASCADE, related_name="records", verbose_name="名单文件")
    row_no = models.PositiveIntegerField("行号")
    id_raw = models.CharField("身份证号（原文）", max_length=40)
    id_number = models.CharField("身份证号", max_length=40)
    id_status = models.CharField("号码状态", max_length=10, choices=ID_STATUSES.items())
    match_key = models.CharField("关联键", max_length=40)
    name = models.CharField("姓名", max_length=50)
    birth_date = models.DateField("出生日期（号码推得）", null=True)
    sex = models.CharField("性别（号码推得）", max_length=1, blank=True, choices=SEXES.items())
    village = models.CharField("所在村代码", max_length=12, blank=True)
    household_no = models.CharField("户编号", max_length=30, blank=True)
    category = models.CharField("类别", max_length=20, blank=True, choices=CATEGORIES.items())
    poverty_status = models.CharField("脱贫状态", max_length=12, blank=True, choices=POVERTY_STATUSES.items())
    start_date = models.DateField("起始日期", null=True)
    end_date = models.DateField("终止日期", null=True)
    death_date = models.DateField("死亡日期", null=True)
    disability_kind = models.CharField("残疾类别", max_length=20, blank=True)
    disability_grade = models.PositiveSmallIntegerField("残疾等级", null=True)
    year = models.PositiveSmallIntegerField("参保年度", null=True)
    enrol_status = models.CharField("参保状态", max_length=12, blank=True)
    enrol_region = models.CharField("参保地区划", max_length=12, blank=True)

    region_field = "village"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "比对名单行"
        indexes = [
            models.Index(fields=["file", "id_number"], name="matching_record_file_id"),
            models.Index(fields=["match_key"], name="matching_record_key"),
        ]

    def __str__(self):
        return f"{self.file_id}#{self.row_no} {self.name}"


class MatchLink(models.Model):
    """A probable link (§8.2) from a number as written in a department's list to a ledger person.

    Proposed with a score, never applied: a confirmed link makes that number an exact match from then on.
    """

    match_key = models.CharField("名单中的身份证号", max_length=40)
    person = models.ForeignKey(Person, models.CASCADE, related_name="match_links", verbose_name="台账人员")
    source = models.CharField("来源", max_length=16, choices=SOURCES.items())
    id_raw = models.CharField("身份证号（原文）", max_length=40)
    name = models.CharField("名单中的姓名", max_length=50)
    score = models.FloatField("匹配得分")
    reasons = models.JSONField("比较结果", default=dict)
    status = models.CharField("状态", max_length=10, choices=LINK_STATUSES.items(), default="proposed")
    proposed_run = models.ForeignKey(MatchingRun, models.SET_NULL, null=True, related_name="links",
                                     verbose_name="提出批次")
    decided_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name="确认人")
    decided_at = models.DateTimeField("确认时间", null=True, blank=True)
    note = models.TextField("说明", blank=True)
    created_at = models.DateTimeField("提出时间", auto_now_add=True)

    region_field = "person__region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "疑似关联"
        ordering = ["-score", "id"]
        constraints = [models.UniqueConstraint(fields=["match_key", "person"], name="one_link_per_key_person")]
        indexes = [models.Index(fields=["match_key", "status"], name="match_link_key_status")]

    def __str__(self):
        return f"{mask_id_number(self.match_key)} → {self.person}（{self.score:.3f}）"


class MatchingItem(models.Model):
    """A difference (M01–M07) as a work item for the person's township; its history is the audit trail."""

    code = models.CharField("差异", max_length=3, choices=DIFFERENCES.items())
    key = models.CharField("差异键", max_length=200, help_text="同一差异在各次比对中的标识")
    status = models.CharField("状态", max_length=12, choices=ITEM_STATUSES.items(), default="new")
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所属区划")
    person = models.ForeignKey(Person, models.SET_NULL, null=True, blank=True, related_name="matching_items",
                               verbose_name="台账人员")
    link = models.ForeignKey(MatchLink, models.SET_NULL, null=True, blank=True, related_name="items",
                             verbose_name="疑似关联")
    id_number = models.CharField("身份证号", max_length=40)
    name = models.CharField("姓名", max_length=50)
    source = models.CharField("来源", max_length=16, choices=SOURCES.items(), blank=True)
    summary = models.CharField("差异说明", max_length=300)
    detail = models.JSONField("详细信息", default=dict)
    note = models.TextField("处理说明", blank=True)
    first_run = models.ForeignKey(MatchingRun, models.PROTECT, related_name="opened_items", verbose_name="发现批次")
    closed_run = models.ForeignKey(MatchingRun, models.PROTECT, null=True, blank=True, related_name="closed_items",
                                   verbose_name="自动关闭批次")
    closed_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name="处理人")
    created_at = models.DateTimeField("发现时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "比对差异事项"
        ordering = ["-id"]
        constraints = [
            # No duplicate open items across runs (DOMAIN §8.3).
            models.UniqueConstraint(fields=["key"], condition=Q(status__in=OPEN_STATUSES),
                                    name="one_open_item_per_key"),
        ]
        indexes = [
            models.Index(fields=["region", "status"], name="matching_item_region_status"),
            models.Index(fields=["key", "status"], name="matching_item_key_status"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}（{self.get_status_display()}）"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# --- Access log (who looked, not only who changed): poverty_registry/access_log.py writes it ----------------

ACCESS_KINDS = {
    "full_id_page": "查看完整身份证号（详情页）",
    "full_id_list": "查看完整身份证号（列表）",
    "id_search": "按身份证号查询",
    "settlement_sheet": "打开结算单",
    "claim": "打开就诊结算记录",
    "export": "导出文件",
    "download": "下载文件",
}


class AccessRecord(models.Model):
    """One page or file that showed personal data (个人信息保护法; 等保 2.0 access audit): who, when, from where,
    what (an object's key, or a list's filters, or a file), how many rows and how many full ID numbers. One
    row per page or file, never per person shown. Append-only: UPDATE and DELETE raise in the database."""

    at = models.DateTimeField("时间", default=timezone.now)
    # No foreign key: the record outlives the account, and a cascade would have to delete it.
    user_id = models.BigIntegerField("账号ID", null=True)
    username = models.CharField("账号", max_length=150)
    region_code = models.CharField("账号辖区", max_length=12, blank=True)
    ip = models.CharField("IP地址", max_length=45, blank=True)
    kind = models.CharField("访问类型", max_length=20, choices=ACCESS_KINDS.items())
    path = models.CharField("页面", max_length=200, blank=True)
    object_key = models.CharField("对象", max_length=100, blank=True)
    file_name = models.CharField("文件名", max_length=200, blank=True)
    filters = models.CharField("筛选条件", max_length=1000, blank=True)
    rows = models.PositiveIntegerField("行数", default=0)
    full_ids = models.PositiveIntegerField("完整身份证号数", default=0)

    region_field = "region_code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "个人信息访问记录"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user_id", "at"], name="access_user_at"),
            models.Index(fields=["region_code"], name="access_region", opclasses=["varchar_pattern_ops"]),
            # Times grow with ids: a block-range index finds a day at a fraction of a B-tree's upkeep.
            BrinIndex(fields=["at"], name="access_at"),
        ]

    def __str__(self):
        return f"{self.username} {self.get_kind_display()} {self.object_label or self.file_name}"

    @property
    def object_label(self) -> str:
        """The object in words: "claims.claim:780" → 就诊结算记录 #780 (the key keeps the model's label)."""
        from django.apps import apps

        label, _, key = self.object_key.partition(":")
        try:
            model = apps.get_model(label) if label else None
        except (LookupError, ValueError):
            model = None
        if model is None:
            return self.object_key
        return f"{model._meta.verbose_name} #{key}" if key else str(model._meta.verbose_name)


class AccessFlag(models.Model):
    """An account that opened more persons' full ID numbers in one day than ACCESS_FULL_ID_DAILY_LIMIT
    (access_log.flag_day, run nightly by beat and by `manage.py flag_access`)."""

    day = models.DateField("日期")
    user_id = models.BigIntegerField("账号ID", null=True)
    username = models.CharField("账号", max_length=150)
    region_code = models.CharField("账号辖区", max_length=12, blank=True)
    full_ids = models.PositiveIntegerField("当日完整身份证号数")
    views = models.PositiveIntegerField("当日访问次数")
    limit = models.PositiveIntegerField("阈值")
    computed_at = models.DateTimeField("计算时间", default=timezone.now)

    region_field = "region_code"
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "超量查看完整身份证号的账号"
        ordering = ["-day", "-full_ids"]
        constraints = [models.UniqueConstraint(fields=["day", "username"], name="access_flag_day_user")]

    def __str__(self):
        return f"{self.day} {self.username}：{self.full_ids}"


# ---- The audit trail (DOMAIN §7.3): written by triggers (poverty_registry.audit), read by the admin ----------

class AuditJSONField(models.JSONField):
    """A record's row as `json`, the text exactly as the trigger wrote and hashed it: building and storing
    text costs a third of what jsonb does (binary form, then text again for the hash) at 100,000 rows a
    statement, and the trail is read a record at a time, never searched inside."""

    def db_type(self, connection):
        return "json"

    def from_db_value(self, value, expression, connection):
        # psycopg decodes json itself (Django keeps only jsonb as text)
        return value if value is None or not isinstance(value, str) else super().from_db_value(
            value, expression, connection)


class AuditRecord(models.Model):
    """One changed row. Written only by PostgreSQL triggers (poverty_registry.audit.trail), never by the application."""

    ACTIONS = {"INSERT": "新增", "UPDATE": "修改", "DELETE": "删除"}

    at = models.DateTimeField("时间")
    table_name = models.CharField("数据表", max_length=80)
    object_pk = models.CharField("对象主键", max_length=40)
    action = models.CharField("操作", max_length=6, choices=ACTIONS.items())
    before = AuditJSONField("修改前", null=True)
    after = AuditJSONField("修改后", null=True)
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True)
    ip = models.CharField("IP地址", max_length=45, blank=True)
    source = models.CharField("来源", max_length=60, blank=True)
    region_code = models.CharField("区划", max_length=12, blank=True)
    row_hash = models.BinaryField("本条哈希")
    chain_hash = models.BinaryField("链哈希")
    # Set on the records spread out of a journal entry (AuditJournal), null on those written directly.
    journal_id = models.BigIntegerField("批量日志号", null=True, blank=True)

    region_field = "region_code"
    objects = RegionScopedManager()

    class Meta:
        # the table keeps the name it was created with in claims: the chain's rows never move (README "Layout")
        db_table = "claims_auditrecord"
        verbose_name = verbose_name_plural = "审计记录"
        ordering = ["-id"]
        indexes = [
            # the journal entries already spread out; partial, so direct records cost it nothing
            models.Index(fields=["journal_id"], name="audit_journal", condition=models.Q(journal_id__isnull=False)),
            # object first: a record's history (object, table) and the admin's search by object alone
            models.Index(fields=["object_pk", "table_name"], name="audit_object_table"),
            models.Index(fields=["actor_username", "at"], name="audit_actor"),
            models.Index(fields=["region_code"], name="audit_region", opclasses=["varchar_pattern_ops"]),
            # Times grow with ids: a block-range index finds a period at a fraction of a B-tree's upkeep.
            BrinIndex(fields=["at"], name="audit_at"),
        ]

    def __str__(self):
        from .audit.display import record_title

        return record_title(self.table_name, self.get_action_display(), self.object_pk)

    def changed_fields(self) -> list[tuple[str, object, object]]:
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class AuditJournal(models.Model):
    """The changes of one large statement (more than AUDIT_DIRECT_ROWS rows: an import, a subsidy run), written
    by the same trigger in the same transaction as one hash-chained entry per 50,000 changes, and spread out
    into indexed AuditRecords (with their own chain) by .audit.trail.spread_journal after the commit. The
    entry is the record of those changes from the moment they are committed; the spread-out records are
    how supervisors look them up by object, person or user."""

    at = models.DateTimeField("时间")
    table_name = models.CharField("数据表", max_length=80)
    action = models.CharField("操作", max_length=6, choices=AuditRecord.ACTIONS.items())
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True)
    ip = models.CharField("IP地址", max_length=45, blank=True)
    source = models.CharField("来源", max_length=60, blank=True)
    rows = models.PositiveIntegerField("变更行数")
    # [[object key, region code, before, after], …] in the order the records are spread out
    changes = AuditJSONField("变更内容")
    content_hash = models.BinaryField("内容哈希")
    chain_hash = models.BinaryField("链哈希")

    class Meta:
        db_table = "claims_auditjournal"
        verbose_name = verbose_name_plural = "审计批量日志"
        ordering = ["-id"]

    def __str__(self):
        from .audit.display import model_label

        return f"{self.get_action_display()} {model_label(self.table_name)} ×{self.rows}"
