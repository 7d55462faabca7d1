from django.core.management.base import BaseCommand, CommandError

from profiling.models import ProfilingAPIKey


class Command(BaseCommand):
    help = "Revoke every API key with the given name."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)

    def handle(self, *args, name: str, **options):
        keys = ProfilingAPIKey.objects.filter(name=name)
        if not keys.exists():
            raise CommandError(f"No API key is named '{name}'.")
        count = keys.filter(revoked=False).update(revoked=True)
        self.stdout.write(f"Revoked {count} API key(s) named '{name}'.")
