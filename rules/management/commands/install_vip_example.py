"""`manage.py install_vip_example`: the VIP discount rule, ready to use (safe to run again)."""

from django.core.management.base import BaseCommand

from labels.models import CustomerLabel
from rules.services.authoring import VIP_LABEL, VIP_RULE, VIP_TRIGGER, vip_example_install


class Command(BaseCommand):
    help = (
        f"Install the VIP example: the global customer label {VIP_LABEL}, the rule trigger "
        f"{VIP_TRIGGER['code']} (order.created) and the enabled rule {VIP_RULE['name']!r} "
        "giving labelled customers 10% off new orders. Existing parts are reused and left as "
        "they are, so running it again changes nothing."
    )

    def handle(self, *args, **options):
        created = vip_example_install()
        parts = {
            "label": f"customer label {VIP_LABEL}",
            "trigger": f"rule trigger {VIP_TRIGGER['code']}",
            "rule": f"rule {VIP_RULE['name']!r}",
        }
        for key, description in parts.items():
            state = "created" if created[key] else "already there, left as it is"
            self.stdout.write(f"  {description}: {state}")
        carriers = CustomerLabel.objects.filter(
            label__name=VIP_LABEL, label__type="customer", label__brand__isnull=True
        ).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"VIP example ready: {carriers} customer(s) carry {VIP_LABEL} and get 10% off "
                "their new orders."
            )
        )
