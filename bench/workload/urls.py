from django.urls import path

from bench.workload import views

urlpatterns = [
    path("catalogue", views.catalogue, name="bench-catalogue"),
    path("trivial", views.TrivialView.as_view(), name="bench-trivial"),
    path("trivial-public", views.PublicTrivialView.as_view(), name="bench-trivial-public"),
]
