"""The product's URLs plus `/bench/baseline/`."""

from django.urls import include, path

from bench.baseline.views import baseline_insert

urlpatterns = [
    path("bench/baseline/", baseline_insert),
    path("", include("artera.urls")),
]
