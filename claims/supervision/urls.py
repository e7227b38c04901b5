"""Routes of the supervisors' pages (基金监管), included under /supervision/."""
from django.urls import path

from . import views

app_name = "supervision"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("export.xlsx", views.overview_export, name="overview_export"),
    path("hits/", views.hit_list, name="hits"),
    path("screen/", views.screen_now, name="screen_now"),
    path("screen/status/", views.screening_status, name="screening_status"),
    path("hits/export.xlsx", views.hit_export, name="hits_export"),
    path("claims/<int:pk>/", views.claim_detail, name="claim"),
    path("hospitals/<int:pk>/", views.hospital_profile, name="hospital"),
    path("cases/", views.case_list, name="cases"),
    path("cases/new/", views.case_new, name="case_new"),
    path("cases/from-hits/", views.case_from_hits, name="case_from_hits"),
    path("cases/publication.xlsx", views.publication_export, name="publication"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/action/", views.case_action, name="case_action"),
    path("cases/<int:pk>/attachments/<int:attachment_pk>/", views.case_attachment, name="case_attachment"),
]
