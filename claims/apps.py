from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "结算与基金监管"

    def ready(self):
        from poverty_registry.roles import sync_roles

        from .audit import install_triggers

        # claims is the last of our apps: by its post_migrate every table and permission exists.
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="audit_install_triggers")
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="sync_roles")
        # registers the "claims" import kind and the audit anchors' deploy checks
        from . import checks, claim_import  # noqa: F401
        from .supervision_tasks import screen_nightly  # noqa: F401 — registers the screening tasks with Celery
