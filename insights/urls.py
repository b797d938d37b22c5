from django.urls import path

from . import views

urlpatterns = [
    path("insights/", views.dashboard, name="insights"),
    path("insights/<slug:figure>.csv", views.figure_csv, name="insights-csv"),
]
