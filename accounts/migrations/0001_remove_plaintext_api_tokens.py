"""Delete the API tokens of Django REST framework's `authtoken` app, stored in plain text.

API tokens are now django-rest-knox tokens (hashed, expiring). The old tokens stop working
anyway; this removes them and their table, and forgets the app's migrations, as though it had
never been installed. API clients log in again (`POST /api/v1/auth/token/`).
"""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

OLD_TABLE = "authtoken_token"


def remove_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE in connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(OLD_TABLE)}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunPython(remove_plaintext_tokens, migrations.RunPython.noop)]
