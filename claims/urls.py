from django.urls import path

from . import views

app_name = "claims"
urlpatterns = [
    path("sheet/<int:pk>/", views.sheet, name="sheet"),
    path("statistics/", views.statistics, name="statistics"),
    path("risk/", views.risk, name="risk"),
    path("resettle/", views.resettle_start, name="resettle_start"),
    path("resettle/<int:pk>/", views.resettle_run, name="resettle_run"),
]
