from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "结算与基金监管"

    def ready(self):
        from poverty_registry.roles import sync_roles

        from .audit import install_triggers, record_login

        # claims is the last of our apps: by its post_migrate every table and permission exists.
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="audit_install_triggers")
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="sync_roles")
        # the login's last_login write recorded under the account and address that signed in (in its place)
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(record_login, dispatch_uid="audit_record_login")
        # registers the "claims" import kind and the audit anchors' deploy checks
        from . import checks, claim_import  # noqa: F401
        from .supervision_tasks import screen_nightly  # noqa: F401 — registers the screening tasks with Celery
