"""A URLconf without the app's URLs (tests/test_checks.py)."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("", lambda request: HttpResponse("host"))]
