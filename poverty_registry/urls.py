from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("ledger/export.xlsx", views.ledger_export, name="ledger_export"),
]
