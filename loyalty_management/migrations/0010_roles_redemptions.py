"""Grant the roles their permissions on the points catalogue (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty_management", "0009_redemptions"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
