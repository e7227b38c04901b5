from django.apps import AppConfig


class PovertyRegistryConfig(AppConfig):
    name = "poverty_registry"
    verbose_name = "建档立卡台账"
