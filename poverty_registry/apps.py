from django.apps import AppConfig


class PovertyRegistryConfig(AppConfig):
    name = "poverty_registry"
    verbose_name = "建档立卡台账"

    def ready(self):
        # the ledger import kind; the role table's system check
        from . import ledger_import, roles  # noqa: F401
