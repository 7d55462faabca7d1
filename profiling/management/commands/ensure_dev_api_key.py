from django.core.management.base import BaseCommand

from profiling.models import ProfilingAPIKey

DEV_KEY_NAME = "development"


class Command(BaseCommand):
    help = "Create the development API key unless one exists; print it only when created."

    def handle(self, *args, **options):
        if ProfilingAPIKey.objects.filter(name=DEV_KEY_NAME, revoked=False).exists():
            self.stdout.write(
                f"A development API key exists (shown when it was created). "
                f"For a new one: python manage.py revoke_api_key --name {DEV_KEY_NAME}, then make run."
            )
            return
        _, key = ProfilingAPIKey.objects.create_key(name=DEV_KEY_NAME)
        self.stdout.write("Development API key (shown once, store it now):")
        self.stdout.write(f"    {key}")
        self.stdout.write(f"Try: curl -H 'X-API-Key: {key}' http://127.0.0.1:8080/api/profiling/memory")
