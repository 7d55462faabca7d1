from rest_framework.permissions import BasePermission

from profiling.models import ProfilingAPIKey


class HasAPIKeyOrStaff(BasePermission):
    """Allow requests with a valid API key, or from an active staff user's session."""

    message = "Staff access or an API key is required."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ProfilingAPIKey):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
