"""Grant the roles that see wallets the view permission on claw-backs (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0003_clawbacks"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
