"""Grant the roles their wallet permissions (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0001_wallets_and_ledger"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
