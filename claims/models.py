"""Claims, settlement and fund supervision; and the audit trail that every app writes through triggers."""
from django.db import models

from poverty_registry.scoping import RegionScopedManager


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
