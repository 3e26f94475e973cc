"""Grant the roles their permissions on loyalty (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("brands", "0003_roles_notifications"),
        ("loyalty_management", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
