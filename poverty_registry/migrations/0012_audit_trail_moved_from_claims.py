"""The audit trail's models move from claims to the base app (README "Layout"): only Django's state moves. The
tables keep their names (claims_auditrecord, claims_auditjournal), rows, indexes, sequences and triggers, so the
hash chains and their anchors stay valid. The content types (and so the permissions, their ids and the roles
holding them) are renamed to the new app in place rather than created anew."""

import django.contrib.postgres.indexes
import poverty_registry.models
from django.db import migrations, models


AUDIT_MODELS = ("auditrecord", "auditjournal")


def _rename(apps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in AUDIT_MODELS:
        # a database migrated before any content type existed gets them at post_migrate, under the new app
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types(apps, schema_editor):
    _rename(apps, "claims", "poverty_registry")


def move_content_types_back(apps, schema_editor):
    _rename(apps, "poverty_registry", "claims")


class Migration(migrations.Migration):

    dependencies = [
        ('poverty_registry', '0011_import_kind_matching_record_labels'),
        ('claims', '0013_settlement_category_labels_default_policy_note'),  # the tables, created there
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
            migrations.CreateModel(
                name='AuditJournal',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('at', models.DateTimeField(verbose_name='时间')),
                    ('table_name', models.CharField(max_length=80, verbose_name='数据表')),
                    ('action', models.CharField(choices=[('INSERT', '新增'), ('UPDATE', '修改'), ('DELETE', '删除')], max_length=6, verbose_name='操作')),
                    ('actor_id', models.BigIntegerField(null=True, verbose_name='操作人ID')),
                    ('actor_username', models.CharField(blank=True, max_length=150, verbose_name='操作人')),
                    ('ip', models.CharField(blank=True, max_length=45, verbose_name='IP地址')),
                    ('source', models.CharField(blank=True, max_length=60, verbose_name='来源')),
                    ('rows', models.PositiveIntegerField(verbose_name='变更行数')),
                    ('changes', poverty_registry.models.AuditJSONField(verbose_name='变更内容')),
                    ('content_hash', models.BinaryField(verbose_name='内容哈希')),
                    ('chain_hash', models.BinaryField(verbose_name='链哈希')),
                ],
                options={
                    'verbose_name': '审计批量日志',
                    'verbose_name_plural': '审计批量日志',
                    'db_table': 'claims_auditjournal',
                    'ordering': ['-id'],
                },
            ),
            migrations.CreateModel(
                name='AuditRecord',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('at', models.DateTimeField(verbose_name='时间')),
                    ('table_name', models.CharField(max_length=80, verbose_name='数据表')),
                    ('object_pk', models.CharField(max_length=40, verbose_name='对象主键')),
                    ('action', models.CharField(choices=[('INSERT', '新增'), ('UPDATE', '修改'), ('DELETE', '删除')], max_length=6, verbose_name='操作')),
                    ('before', poverty_registry.models.AuditJSONField(null=True, verbose_name='修改前')),
                    ('after', poverty_registry.models.AuditJSONField(null=True, verbose_name='修改后')),
                    ('actor_id', models.BigIntegerField(null=True, verbose_name='操作人ID')),
                    ('actor_username', models.CharField(blank=True, max_length=150, verbose_name='操作人')),
                    ('ip', models.CharField(blank=True, max_length=45, verbose_name='IP地址')),
                    ('source', models.CharField(blank=True, max_length=60, verbose_name='来源')),
                    ('region_code', models.CharField(blank=True, max_length=12, verbose_name='区划')),
                    ('row_hash', models.BinaryField(verbose_name='本条哈希')),
                    ('chain_hash', models.BinaryField(verbose_name='链哈希')),
                    ('journal_id', models.BigIntegerField(blank=True, null=True, verbose_name='批量日志号')),
                ],
                options={
                    'verbose_name': '审计记录',
                    'verbose_name_plural': '审计记录',
                    'db_table': 'claims_auditrecord',
                    'ordering': ['-id'],
                    'indexes': [models.Index(condition=models.Q(('journal_id__isnull', False)), fields=['journal_id'], name='audit_journal'), models.Index(fields=['object_pk', 'table_name'], name='audit_object_table'), models.Index(fields=['actor_username', 'at'], name='audit_actor'), models.Index(fields=['region_code'], name='audit_region', opclasses=['varchar_pattern_ops']), django.contrib.postgres.indexes.BrinIndex(fields=['at'], name='audit_at')],
                },
            ),
        ]),
        migrations.RunPython(move_content_types, move_content_types_back, elidable=False),
    ]
