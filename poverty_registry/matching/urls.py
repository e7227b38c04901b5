from django.urls import path

from . import views

app_name = "matching"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("runs/", views.runs, name="runs"),
    path("runs/start/", views.start_run, name="start_run"),
    path("runs/status/", views.run_status, name="run_status"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("links/", views.links, name="links"),
    path("links/<int:pk>/decide/", views.decide_link, name="decide_link"),
]
