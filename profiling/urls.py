from django.urls import re_path

from profiling.views import system

app_name = "profiling"

urlpatterns = [
    re_path(r"^memory/?$", system.MemoryView.as_view(), name="memory"),
    re_path(r"^cpu/?$", system.CpuView.as_view(), name="cpu"),
]
