from django.urls import re_path

from profiling.views import bottlenecks, instances, memory_analysis, system

app_name = "profiling"

urlpatterns = [
    re_path(r"^instances/?$", instances.InstancesView.as_view(), name="instances"),
    re_path(r"^memory/?$", system.MemoryView.as_view(), name="memory"),
    re_path(r"^cpu/?$", system.CpuView.as_view(), name="cpu"),
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
]
