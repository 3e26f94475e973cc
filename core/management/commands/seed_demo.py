"""`manage.py seed_demo`: create the demo data (see core/demo.py) and print how to use it."""

import sys
import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from core.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create a demo: two brands with stores and a POS device each, customers, products, "
        "labels and orders over the last weeks, a loyalty programme with tiers per brand, "
        "points, cashback, badges, wallet credit and the default notification templates. "
        "Running it again adds nothing twice and "
        "leaves existing users and device keys alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300, help="Customers (300).")
        parser.add_argument("--orders", type=int, default=600, help="Orders (600).")
        parser.add_argument("--products", type=int, default=100, help="Products per brand (100).")
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")

    def handle(self, *args, **options):
        for name in ("customers", "orders", "products"):
            if options[name] < 0:
                self.stderr.write(f"--{name} cannot be negative.")
                sys.exit(2)
        quiet = options["quiet"] or options["verbosity"] == 0

        def progress(iterable, total, description):
            return tqdm(
                iterable, total=total, desc=description, unit="", disable=quiet, leave=False
            )

        started = time.monotonic()
        result = demo_seed(
            customers=options["customers"],
            orders=options["orders"],
            products_per_brand=options["products"],
            progress=progress,
        )
        elapsed = time.monotonic() - started
        created = ", ".join(
            f"{count} {name}" for name, count in sorted(result.created.items()) if count
        )
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready in {elapsed:.1f}s. Created: {created or 'nothing'}.")
        )
        if result.devices:
            self.stdout.write("POS device keys (header X-Device-Key), shown this once:")
            for device, raw_key in result.devices:
                self.stdout.write(f"  {device.store}  {device.name}: {raw_key}")
        else:
            self.stdout.write(
                "Demo POS devices exist already; their keys were shown when they were created. "
                "Rotate a key in the admin (POS devices) to get a new one."
            )
        # Last, after everything the run printed (the demo's emails go to the console with
        # DEBUG), so that a person sees them.
        if result.logins:
            self.stdout.write("Admin logins (/admin/):")
            for username, password, role in result.logins:
                self.stdout.write(f"  {username} / {password}  ({role})")
        else:
            self.stdout.write("Demo admin users exist already; their passwords were not changed.")
        for email, password, brand in result.storefront_logins:
            self.stdout.write("Storefront login (/account/ and /basket/):")
            self.stdout.write(f"  {email} / {password}  ({brand}'s top member)")
