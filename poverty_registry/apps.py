from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


class PovertyRegistryConfig(AppConfig):
    name = "poverty_registry"
    verbose_name = "建档立卡台账"

    def ready(self):
        from .audit.middleware import record_login
        from .audit.trail import install_triggers

        # post_migrate is sent once every migration has run: every app's audited tables exist by then.
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="audit_install_triggers")
        # the login's last_login write recorded under the account and address that signed in (in its place)
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(record_login, dispatch_uid="audit_record_login")
        # the ledger import kind; the role table's system check; the audit anchors' deploy checks; the audit
        # trail's Celery tasks (outside the autodiscovered tasks.py)
        from . import importer, roles  # noqa: F401
        from .audit import checks, tasks  # noqa: F401
