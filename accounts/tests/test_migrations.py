"""The plain-text tokens of DRF's `authtoken` app are deleted with their table."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

migration = importlib.import_module("accounts.migrations.0001_remove_plaintext_api_tokens")

pytestmark = pytest.mark.django_db


def test_the_old_token_table_and_its_migration_records_are_removed(customer):
    # Given a database where DRF's authtoken app had stored a token
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s)", ["0123456789abcdef", customer.user_id]
        )
    recorder = MigrationRecorder(connection)
    recorder.record_applied("authtoken", "0001_initial")

    with connection.schema_editor() as schema_editor:
        migration.remove_plaintext_tokens(apps, schema_editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    assert not recorder.migration_qs.filter(app="authtoken").exists()


def test_a_database_without_the_old_table_is_left_as_it_is():
    tables = set(connection.introspection.table_names())

    with connection.schema_editor() as schema_editor:
        migration.remove_plaintext_tokens(apps, schema_editor)

    assert set(connection.introspection.table_names()) == tables
