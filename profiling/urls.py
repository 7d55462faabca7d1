"""The app's URLs, for a host's `path("", include("profiling.urls"))`.

The API is under /api/profiling/ (the paths scripts and the seed document use), the
dashboard under /profiling/ (never the host's /), metrics at /profiling/metrics. Names
are namespaced: `profiling:memory`, `profiling:dashboard`, `profiling:login`, ...
"""

from django.urls import include, path, re_path

from profiling.views import (
    accounts,
    assets,
    bottlenecks,
    dashboard,
    history,
    instances,
    memory_analysis,
    service,
    system,
)

app_name = "profiling"

api_patterns = [
    re_path(r"^instances/?$", instances.InstancesView.as_view(), name="instances"),
    re_path(r"^memory/?$", system.MemoryView.as_view(), name="memory"),
    re_path(r"^cpu/?$", system.CpuView.as_view(), name="cpu"),
    re_path(r"^samples/?$", system.SamplesView.as_view(), name="samples"),
    re_path(r"^allocations/?$", memory_analysis.AllocationsView.as_view(), name="allocations"),
    re_path(r"^leak-detection/?$", memory_analysis.LeakDetectionView.as_view(), name="leak-detection"),
    re_path(r"^snapshot/?$", memory_analysis.SnapshotView.as_view(), name="snapshot"),
    re_path(r"^snapshots/?$", memory_analysis.SnapshotListView.as_view(), name="snapshots"),
    re_path(
        r"^snapshot/(?P<snapshot_id>[^/]+)/download/?$",
        memory_analysis.SnapshotDownloadView.as_view(),
        name="snapshot-download",
    ),
    re_path(
        r"^snapshot/(?P<before_id>[^/]+)/compare/(?P<after_id>[^/]+)/?$",
        memory_analysis.SnapshotCompareView.as_view(),
        name="snapshot-compare",
    ),
    re_path(r"^bottlenecks/?$", bottlenecks.BottlenecksView.as_view(), name="bottlenecks"),
    re_path(r"^flamegraph/?$", bottlenecks.FlamegraphView.as_view(), name="flamegraph"),
    re_path(r"^flamegraph/diff/?$", history.FlamegraphDiffView.as_view(), name="flamegraph-diff"),
    re_path(r"^endpoints/?$", bottlenecks.EndpointsView.as_view(), name="endpoints"),
    # Anything else under /api/profiling/ is a JSON 404, whatever DEBUG says.
    re_path(r"", service.api_not_found),
]

urlpatterns = [
    path("api/profiling/", include(api_patterns)),
    path("profiling/", dashboard.dashboard, name="dashboard"),
    path("profiling/login/", accounts.LoginView.as_view(), name="login"),
    path("profiling/logout/", accounts.LogoutView.as_view(), name="logout"),
    re_path(r"^profiling/metrics/?$", service.MetricsView.as_view(), name="metrics"),
    path("profiling/assets/<str:name>", assets.asset, name="asset"),
]
