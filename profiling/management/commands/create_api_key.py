from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from profiling.models import ProfilingAPIKey


class Command(BaseCommand):
    help = "Create an API key; the key itself is the last line of stdout and is never shown again."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="A name to recognise the key by.")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until the key expires.")

    def handle(self, *args, name: str, expires_days: int | None, **options):
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("--name must be 1 to 50 characters")
        expiry = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError("--expires-days must be at least 1")
            expiry = timezone.now() + timedelta(days=expires_days)
        api_key, key = ProfilingAPIKey.objects.create_key(name=name, expiry_date=expiry)
        until = f", expires {api_key.expiry_date:%Y-%m-%d %H:%M} UTC" if expiry else ", no expiry"
        self.stderr.write(f"Created API key '{name}' (prefix {api_key.prefix}{until}). Store it now:")
        self.stdout.write(key)
