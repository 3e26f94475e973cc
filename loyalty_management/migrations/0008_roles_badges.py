"""Grant the roles their permissions on badges (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty_management", "0007_badges"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
