"""URL routes: the admin back office and the purpose-built pages."""
from django.contrib import admin
from django.urls import include, path

from poverty_registry import views as registry_views
from poverty_registry.auth import StaffAuthenticationForm

admin.site.site_header = "医保扶贫业务后台"
admin.site.site_title = "医保扶贫业务后台"
admin.site.index_title = "工作台"
admin.site.login_form = StaffAuthenticationForm  # refuses accounts without a region

urlpatterns = [
    path("", registry_views.home, name="home"),
    path("healthz", registry_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("registry/", include("poverty_registry.urls")),
    path("imports/", include("poverty_registry.import_urls")),
    path("matching/", include("poverty_registry.matching.urls")),
    path("enrollment/", include("enrollment.urls")),
    path("supervision/", include("claims.supervision.urls")),
    path("claims/", include("claims.urls")),
]
