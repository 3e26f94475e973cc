"""Grant the roles their experiment permissions (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
