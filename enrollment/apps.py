from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "资助参保"

    def ready(self):
        from . import importer  # noqa: F401 — registers the "enrolment" import kind
