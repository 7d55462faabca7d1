from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from profiling.views import accounts, dashboard, service

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/profiling/", include("profiling.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^metrics/?$", service.MetricsView.as_view(), name="metrics"),
    path("healthz", service.healthz, name="healthz"),
]
if settings.BENCH_WORKLOAD:
    urlpatterns.append(path("bench/", include("bench.workload.urls")))
# Anything else under /api/ is a JSON 404, whatever DEBUG says.
urlpatterns.append(re_path(r"^api/", service.api_not_found))
