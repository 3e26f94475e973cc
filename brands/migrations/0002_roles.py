"""Staff roles as groups with permissions (see brands/roles.py)."""

from django.db import migrations

from brands.roles import noop_reverse, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("brands", "0001_initial"),
        ("customers", "0001_initial"),
        ("catalog", "0001_initial"),
        ("labels", "0001_initial"),
        ("orders", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, noop_reverse)]
