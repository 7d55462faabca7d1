"""Dashboard login (staff only, attempts rate-limited) and logout, under the app's own URLs."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import reverse, reverse_lazy
from django_ratelimit.core import is_ratelimited

from profiling.settings import profiling_settings

LIMITED_MESSAGE = "Too many login attempts. Wait a minute and try again."


def _username_key(group, request) -> str:
    return (request.POST.get("username") or "").strip().lower()[:150]


def login_attempts_limited(request) -> bool:
    """Count this attempt per client address (REMOTE_ADDR, never X-Forwarded-For) and per username."""
    rate = profiling_settings.LOGIN_RATE
    by_address = is_ratelimited(request, group="login:ip", key="ip", rate=rate, method="POST", increment=True)
    by_username = is_ratelimited(
        request, group="login:user", key=_username_key, rate=rate, method="POST", increment=True
    )
    return by_address or by_username


class LoginView(auth_views.LoginView):
    """Django's login view with the admin's staff-only form and a rate limit on attempts.

    Its template is the app's own (`profiling/login.html`): a host's
    `registration/login.html` is never shadowed, nor is its LOGIN_URL used.
    """

    template_name = "profiling/login.html"
    authentication_form = AdminAuthenticationForm

    def get_default_redirect_url(self):
        return reverse("profiling:dashboard")

    def get_context_data(self, **kwargs):
        return super().get_context_data(dashboard_url=reverse("profiling:dashboard"), **kwargs)

    def post(self, request, *args, **kwargs):
        if login_attempts_limited(request):
            # The password is not even checked: an unbound form and the reason.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            context = self.get_context_data(form=form, limited_message=LIMITED_MESSAGE)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("profiling:login")
