from django.urls import re_path

from profiling.views import bottlenecks, system

app_name = "profiling"

urlpatterns = [
    re_path(r"^memory/?$", system.MemoryView.as_view(), name="memory"),
    re_path(r"^cpu/?$", system.CpuView.as_view(), name="cpu"),
    re_path(r"^bottlenecks/?$", bottlenecks.BottlenecksView.as_view(), name="bottlenecks"),
    re_path(r"^flamegraph/?$", bottlenecks.FlamegraphView.as_view(), name="flamegraph"),
]
