from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "结算与基金监管"

    def ready(self):
        from poverty_registry import dashboards
        from poverty_registry.audit.display import register_value_labels
        from poverty_registry.roles import sync_roles

        from .forms import SEGMENTS
        from .selectors import home_numbers as settlement_numbers
        from .supervision.rules import RULE_PARAMS
        from .supervision.selectors import home_numbers as supervision_numbers

        # the home page's settlement, then supervision numbers
        dashboards.register(settlement_numbers)
        dashboards.register(supervision_numbers)

        # claims is the last of our apps: by its post_migrate every permission exists.
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="sync_roles")
        # the audit trail names the policy segments and rule parameters inside the JSON columns in words
        register_value_labels({**SEGMENTS, **RULE_PARAMS})
        # registers the "claims" import kind
        from . import importer  # noqa: F401
        from .supervision.tasks import screen_nightly  # noqa: F401 — registers the screening tasks with Celery
