import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Create the demo's staff user unless it exists; print its password only when created."

    def handle(self, *args, **options):
        users = get_user_model()
        if users.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write(
                f"The demo user '{DEMO_USERNAME}' exists (its password was shown when it was created). "
                f"For a new one: python manage.py changepassword {DEMO_USERNAME}"
            )
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_user(DEMO_USERNAME, password=password, is_staff=True)
        self.stdout.write("Demo dashboard login (shown once, store it now):")
        self.stdout.write(f"    username: {DEMO_USERNAME}")
        self.stdout.write(f"    password: {password}")
        self.stdout.write("Open http://127.0.0.1:8080/ and sign in.")
