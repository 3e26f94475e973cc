"""Grant brand admins the export and erase permissions on customers (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("brands", "0003_roles_notifications"),
        ("customers", "0002_personal_data_erasure_and_audit"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
