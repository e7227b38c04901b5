from django.urls import path

from . import views

app_name = "enrollment"
urlpatterns = [
    path("subsidies/", views.subsidies, name="subsidies"),
    path("subsidies/compute/", views.compute, name="compute"),
    path("subsidies/issue/", views.issue, name="issue"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/xlsx/", views.report_xlsx, name="report_xlsx"),
    path("reports/<int:pk>/print/", views.report_print, name="report_print"),
    path("rate/", views.rate, name="rate"),
    path("chase/", views.chase, name="chase"),
    path("chase/<int:person_id>/status/", views.chase_status, name="chase_status"),
]
