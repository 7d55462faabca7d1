from django.urls import re_path

from profiling import views

app_name = "profiling"

urlpatterns = [
    re_path(r"^memory/?$", views.MemoryView.as_view(), name="memory"),
    re_path(r"^cpu/?$", views.CpuView.as_view(), name="cpu"),
]
