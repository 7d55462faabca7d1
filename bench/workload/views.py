"""Endpoints the benchmarks load: a realistic request and a trivial one."""

from django.http import JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.workload.models import Item
from profiling.views.base import ProfilingView

CATEGORIES = ["books", "music", "tools", "garden", "toys"]


def catalogue(request):
    """ORM reads on SQLite, some per-row work and allocation, JSON rendering."""
    try:
        page = max(0, min(int(request.GET.get("page", "0")), 9))
    except ValueError:
        page = 0
    category = CATEGORIES[page % len(CATEGORIES)]
    rows = list(Item.objects.filter(category=category).order_by("id")[page * 10 : page * 10 + 40])
    items = [
        {
            "id": row.id,
            "name": row.name.title(),
            "price": f"{row.price_cents / 100:.2f}",
            "words": len(row.description.split()),
            "tags": sorted({word.lower() for word in row.description.split()[:12]}),
        }
        for row in rows
    ]
    total = sum(row.price_cents for row in rows)
    return JsonResponse({"category": category, "count": len(items), "total_cents": total, "items": items})


class TrivialView(ProfilingView):
    """A trivial endpoint behind the profiling API's own policy: API key check and throttle."""

    throttle_scope = "bench_trivial"

    def get(self, request):
        return Response({"ok": True})


class PublicTrivialView(APIView):
    """A bare trivial DRF endpoint: no authentication, permission or throttle."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({"ok": True})
