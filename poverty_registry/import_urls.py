from django.urls import path

from . import import_views

app_name = "imports"
urlpatterns = [
    path("<str:kind_code>/new/", import_views.new, name="new"),
    path("<str:kind_code>/template.xlsx", import_views.template_file, name="template"),
    path("run/<int:pk>/", import_views.detail, name="detail"),
    path("run/<int:pk>/status/", import_views.status, name="status"),
    path("run/<int:pk>/confirm/", import_views.confirm, name="confirm"),
    path("run/<int:pk>/retry/", import_views.retry, name="retry"),
    path("run/<int:pk>/errors.xlsx", import_views.errors_file, name="errors"),
]
