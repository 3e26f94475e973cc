"""`manage.py install_default_templates`: the default email and inbox templates of every event
(see notifications/defaults.py). Safe to run again: it never changes a template that exists."""

from django.core.management.base import BaseCommand

from notifications.defaults import DEFAULT_TEMPLATES, default_templates_install


class Command(BaseCommand):
    help = (
        "Create the missing default notification templates (email and inbox) for every event "
        "the product sends. Templates that exist, edited or not, are left as they are."
    )

    def handle(self, *args, **options):
        created = default_templates_install()
        self.stdout.write(
            self.style.SUCCESS(
                f"Default notification templates: {created} created, "
                f"{len(DEFAULT_TEMPLATES) * 2 - created} already there and left as they are."
            )
        )
