"""The audit trail's models now belong to poverty_registry (its 0012): removed from this app's state only; the
tables and their rows stay where they are."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0013_settlement_category_labels_default_policy_note'),
        ('poverty_registry', '0012_audit_trail_moved_from_claims'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
            migrations.DeleteModel(name='AuditJournal'),
            migrations.DeleteModel(name='AuditRecord'),
        ]),
    ]
