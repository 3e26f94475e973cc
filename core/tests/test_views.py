import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_cache_and_broker(client, settings):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "outbox"}
    assert body["checks"]["outbox"] == {
        "status": "ok",
        "pending": 0,
        "oldest_seconds": 0,
        "ms": body["checks"]["outbox"]["ms"],
    }
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_checks_the_real_broker_when_tasks_are_not_eager(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_says_degraded_with_200_when_the_cache_is_unreachable(client):
    closed_port = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=closed_port):
        response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["cache"]["error"] == "CacheUnavailable"  # no host or port
    assert body["checks"]["database"]["status"] == "ok"


def test_api_404_uses_the_error_format(client):
    response = client.get("/api/v1/no-such-endpoint/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_a_disallowed_host_on_the_api_gets_the_error_format(client):
    response = client.get("/api/v1/products/", HTTP_HOST="attacker.example.com")

    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "Bad request.", "fields": {}}


@pytest.mark.django_db
def test_healthz_says_degraded_when_the_broker_is_unreachable(client, settings):
    from config.celery_app import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.get("broker_write_url")  # the raw value: the property falls back
    app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_write_url = previous

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "down"


@pytest.mark.django_db
def test_healthz_says_degraded_while_the_outbox_is_late(client, settings, caplog):
    from datetime import timedelta

    from django.utils import timezone

    from core.models import OutboxMessage

    # Given an effect owed for 20 minutes (late after 15) and one owed for a minute
    settings.OUTBOX_LATE_AFTER_SECONDS = 900
    now = timezone.now()
    for age in (timedelta(minutes=1), timedelta(minutes=20)):
        OutboxMessage.objects.create(task="core.outbox_purge", due_at=now, created_at=now - age)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["outbox"]["status"] == "down"
    assert body["checks"]["outbox"]["error"] == "RuntimeError"
    assert "2 effects owed, the oldest for" in caplog.text  # the detail goes to the log
