from django.apps import AppConfig


class PovertyRegistryConfig(AppConfig):
    name = "poverty_registry"
    verbose_name = "建档立卡台账"

    def ready(self):
        from . import ledger_import  # noqa: F401  registers the ledger import kind
