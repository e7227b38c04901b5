"""The registry: regions, staff accounts, and the ledger of registered poor households and persons."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Q, Value

from . import regions as region_codes
from .idnumber import IdNumberError, mask_id_number, parse_id_number
from .scoping import RegionScopedManager, RegionScopedQuerySet
from .vocab import CATEGORIES, HEAD_RELATION, POVERTY_STATUSES, REGION_LEVELS, ROLES, SEXES


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
    household_no = models.CharField("户编号", max_length=30, unique=True)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）")
    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "建档立卡户"
        ordering = ["household_no"]

    def __str__(self):
        return f"户 {self.household_no}"


class Person(models.Model):
    id_number = models.CharField("身份证号", max_length=18, unique=True)
    name = models.CharField("姓名", max_length=50)
    sex = models.CharField("性别", max_length=1, choices=SEXES.items(), editable=False)
    birth_date = models.DateField("出生日期", editable=False)
    household = models.ForeignKey(Household, models.PROTECT, related_name="members", verbose_name="所在户")
    relation = models.CharField("与户主关系", max_length=20, blank=True)
    is_head = models.BooleanField("是否户主", default=False, editable=False)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="所在村（社区）")
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
            models.UniqueConstraint(fields=["household"], condition=Q(is_head=True), name="one_head_per_household"),
            models.CheckConstraint(condition=Q(sex__in=list(SEXES)), name="person_sex_valid"),
        ]
        indexes = [
            models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["region", "id"], name="person_region"),
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
            ExclusionConstraint(
                name="category_spans_do_not_overlap",
                expressions=[
                    ("person", RangeOperators.EQUAL),
                    ("category", RangeOperators.EQUAL),
                    (Func(F("valid_from"), F("valid_to"), Value("[]"), function="daterange",
                          output_field=DateRangeField()), RangeOperators.OVERLAPS),
                ],
            ),
        ]

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
    }

    kind = models.CharField("导入类型", max_length=20)
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

    region_field = "region__code"
    audited = True
    objects = RegionScopedManager()

    class Meta:
        verbose_name = verbose_name_plural = "导入记录"
        ordering = ["-id"]

    def __str__(self):
        return f"{self.file_name}（{self.get_status_display()}）"
