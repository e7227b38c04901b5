"""Enrolment in resident medical insurance (参保), premium subsidies (资助参保) and their reports."""
from django.db import models

from poverty_registry.models import Person, Region
from poverty_registry.scoping import RegionScopedManager

ENROLMENT_STATUSES = {"enrolled": "正常参保", "suspended": "暂停参保", "terminated": "终止参保", "unpaid": "未缴费"}


class Enrolment(models.Model):
    """One person's enrolment for one insurance (calendar) year, as the tax/insurance system reports it."""

    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    year = models.PositiveSmallIntegerField("参保年度")
    status = models.CharField("参保状态", max_length=12, choices=ENROLMENT_STATUSES.items())
    paid_date = models.DateField("缴费日期", null=True, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="参保地区划")
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
        indexes = [models.Index(fields=["year", "status"], name="enrolment_year_status")]

    def __str__(self):
        return f"{self.name} {self.year}年 {self.get_status_display()}"

    @property
    def is_enrolled(self) -> bool:
        return self.status == "enrolled"
