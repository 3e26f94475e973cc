"""`manage.py create_pos_devices <brand>/<store> --count N`: new POS devices and their keys.

For tills set up in bulk and for load tests: prints one plain key per line (shown only here;
only their hashes are stored).
"""

from django.core.management.base import BaseCommand, CommandError

from brands.models import Store
from brands.services import pos_device_create


class Command(BaseCommand):
    help = "Create POS devices in a store and print their keys, one per line."

    def add_arguments(self, parser):
        parser.add_argument("store", help="The store as <brand slug>/<store code>.")
        parser.add_argument("--count", type=int, default=1, help="How many devices (1).")
        parser.add_argument("--name", default="Till", help='Name prefix ("Till").')

    def handle(self, *args, store, count, name, **options):
        if not 1 <= count <= 10_000:
            raise CommandError("--count must be between 1 and 10000.")
        brand_slug, _, code = store.partition("/")
        found = Store.objects.filter(brand__slug=brand_slug, code=code).first()
        if found is None:
            raise CommandError(f"No store {store!r} (give <brand slug>/<store code>).")
        start = found.devices.count() + 1
        for number in range(start, start + count):
            _, raw_key = pos_device_create(store=found, name=f"{name} {number}")
            self.stdout.write(raw_key)
