from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "资助参保"

    def ready(self):
        from poverty_registry import dashboards
        from poverty_registry.audit.display import register_value_labels

        from . import importer  # noqa: F401 — registers the "enrolment" import kind
        from .models import RULE_KINDS
        from .selectors import home_numbers

        dashboards.register(home_numbers)  # the enrolment rate and subsidy tiles of the home page

        # the audit trail names the subsidy rule kinds inside the policies' JSON in words
        register_value_labels(RULE_KINDS)
