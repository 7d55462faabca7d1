"""The standalone deployment: the app's URLs as any host includes them, plus its own pages.

Its own: the dashboard also at `/`, the login also at /accounts/login/, the admin, the
OpenAPI schema and Swagger UI, /metrics and /healthz.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from profiling.views import accounts, dashboard, service

urlpatterns = [
    path("", include("profiling.urls")),
    path("", dashboard.dashboard, name="home"),
    path("accounts/login/", accounts.LoginView.as_view()),
    path("accounts/logout/", accounts.LogoutView.as_view()),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^metrics/?$", service.MetricsView.as_view()),
    path("healthz", service.healthz, name="healthz"),
]
if settings.BENCH_WORKLOAD:
    urlpatterns.append(path("bench/", include("bench.workload.urls")))
# Anything else under /api/ is a JSON 404, whatever DEBUG says.
urlpatterns.append(re_path(r"^api/", service.api_not_found))
