"""Fixtures shared by every app's tests."""

import pytest
from celery._state import _set_task_join_will_block
from django.core.cache import cache, caches
from rest_framework.test import APIClient

from config.celery_app import app as celery_app

pytest_plugins = ["core.tests.redis_server", "core.tests.celery_worker"]


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()
    caches["throttle"].clear()
    yield
    cache.clear()
    caches["throttle"].clear()


@pytest.fixture(autouse=True)
def _generous_throttles(settings):
    """Tests send many requests from one client; throttle tests lower the rates they test."""
    settings.THROTTLE_RATES = dict.fromkeys(settings.THROTTLE_RATES, "100000/minute")


@pytest.fixture(autouse=True)
def _eager_celery():
    """Unit tests run tasks in process; tests marked `worker` use a real worker instead."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
    # An eager task marks "joining would block" in a process-wide flag and restores it after;
    # eager tasks run by concurrent test threads can restore each other's value and leave it
    # set, which would make later `result.get()` calls refuse to wait.
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Logins in tests need no brute-force resistance; slow hashing dominated their time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _webhooks_to_local_receivers(settings):
    """The tests' webhook receivers listen on 127.0.0.1 (refused in production)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def figures(request):
    """`figures("...")` writes a line of what a fault or load test measured into the run's
    output, also when pytest captures the test's own output (as in CI)."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def write(line: str) -> None:
        if reporter is None or capture is None:
            print(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n[{request.node.name}] {line}")

    return write


@pytest.fixture
def a(db):
    """Brand A's world: stores, catalog, a customer, a brand admin, a till, an order
    (`core.tests.api_world.build_tenant`)."""
    from core.tests.api_world import build_tenant

    return build_tenant("a")


@pytest.fixture
def b(db):
    """Brand B's world, the same shape as brand A's: the other tenant of isolation tests."""
    from core.tests.api_world import build_tenant

    return build_tenant("b")
