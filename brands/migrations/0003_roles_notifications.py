"""Grant the roles their permissions on the notifications models (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("brands", "0002_roles"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
