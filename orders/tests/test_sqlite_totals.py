"""The embedded default (SQLite) stores discounted orders: the total check is rounded to the
cent, where SQLite's floating point makes 33.90 - 3.39 differ from 30.51."""

import os
import subprocess
import sys

from django.conf import settings

SCRIPT = """
from decimal import Decimal
from django.core.management import call_command
call_command("migrate", "orders", verbosity=0)
from brands.models import Brand
from orders.models import Order
brand = Brand.objects.create(name="B", slug="b", currency="EUR")
Order.objects.create(
    brand=brand, currency="EUR", subtotal=Decimal("33.90"), discount_total=Decimal("3.39"),
    total=Decimal("30.51"),
)
try:
    Order.objects.create(
        brand=brand, currency="EUR", subtotal=Decimal("33.90"), discount_total=Decimal("3.39"),
        total=Decimal("30.52"),
    )
except Exception as error:
    print("refused", type(error).__name__)
print("orders", Order.objects.count())
"""


def test_a_discounted_order_is_stored_on_sqlite_and_a_wrong_total_still_refused(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-3:-1] == ["refused IntegrityError", "orders 1"]
