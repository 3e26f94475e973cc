"""A real Celery worker for tests, registered for every app by the root conftest.

`live_celery_worker` runs `celery -A config worker --pool=solo` in a subprocess, consuming a
queue of its own, against the test database and the test's Redis. While a test holds it, tasks
are sent through Redis to that worker instead of running eagerly in the test process.

The worker is another process, so it only sees committed rows: a test using it is marked

    @pytest.mark.worker
    @pytest.mark.django_db(transaction=True)
    def test_something(live_celery_worker): ...

The worker starts once per test session (a few seconds) and is stopped at the end of it.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection

from config.celery_app import app as celery_app
from core.outbox import broker_failures
from core.tests.redis_server import free_port

STARTUP_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 30


@dataclass
class LiveCeleryWorker:
    queue: str
    hostname: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _database_url(settings_dict: dict) -> str:
    """The URL of the test database (pytest-django has already switched NAME to it)."""
    if "postgresql" not in settings_dict["ENGINE"]:
        pytest.fail("A live Celery worker needs the PostgreSQL test database (DATABASE_URL).")
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def _wait_until_ready(worker: LiveCeleryWorker) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            pytest.fail(f"The Celery worker exited at startup:\n{worker.log()}")
        if celery_app.control.ping(destination=[worker.hostname], timeout=0.5):
            return
        time.sleep(0.2)
    pytest.fail(f"The Celery worker did not answer a ping in time:\n{worker.log()}")


def _stop(worker: LiveCeleryWorker, *, purge: bool = True) -> None:
    worker.process.terminate()  # warm shutdown: the current task finishes
    try:
        worker.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()
    if purge:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(worker.queue)


def start_worker(
    *, broker_url: str, queue: str | None = None, env: dict[str, str] | None = None
) -> LiveCeleryWorker:
    """Start `celery worker --pool=solo` on the test database, consuming a queue of its own from
    `broker_url`, and wait until it answers a ping (through the in-process app's broker, which
    must be the same)."""
    suffix = uuid.uuid4().hex[:12]
    queue = queue or f"test-{suffix}"
    hostname = f"test-worker-{suffix}@localhost"
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(connection.settings_dict),
        # The cache prefix is derived from the database name, which the test run renamed.
        "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        # Close the connection after each task, so the test suite can flush and drop the DB.
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # The tests' webhook receivers listen on 127.0.0.1.
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
        "PYTHONUNBUFFERED": "1",  # the log file is readable while the worker runs
        **(env or {}),
    }
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
        prefix="celery-worker-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            queue,
            "-n",
            hostname,
        ],
        cwd=settings.BASE_DIR,
        env=worker_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    worker = LiveCeleryWorker(
        queue=queue, hostname=hostname, process=process, log_path=Path(log_file.name)
    )
    try:
        _wait_until_ready(worker)
    except BaseException:
        worker.process.kill()
        worker.process.wait()
        raise
    return worker


@pytest.fixture(scope="session")
def live_celery_worker_process(django_db_setup) -> Iterator[LiveCeleryWorker]:
    broker_url = settings.CELERY_BROKER_URL
    if broker_url.startswith("memory://"):
        pytest.fail("A live Celery worker needs Redis: set REDIS_URL (see the README).")
    worker = start_worker(broker_url=broker_url)
    try:
        yield worker
    finally:
        _stop(worker)
        worker.log_path.unlink(missing_ok=True)


def _reset_broker_connections() -> None:
    """Close and forget the process's pooled broker connections (the next send opens new ones
    to the broker configured then)."""
    kombu.pools.reset()
    celery_app._pool = None
    broker_failures.clear()  # what the last broker did says nothing of the next one
    celery_app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str, *, queue: str | None = None) -> Iterator[None]:
    """Send this process's tasks to the broker at `url` (not eagerly) while inside."""
    conf = celery_app.conf
    keys = ("broker_url", "broker_write_url", "task_always_eager", "task_default_queue")
    previous = {key: conf.get(key) for key in keys}  # raw values, not the properties' fallbacks
    _reset_broker_connections()
    conf.broker_url = conf.broker_write_url = url
    conf.task_always_eager = False
    if queue is not None:
        conf.task_default_queue = queue
    try:
        yield
    finally:
        _reset_broker_connections()
        conf.update(previous)


def closed_port_broker():
    """A broker address nothing listens on: every send is refused, as when Redis is down."""
    return broker_at(f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def live_celery_worker(request, live_celery_worker_process) -> Iterator[LiveCeleryWorker]:
    """Send tasks to the live worker (not eagerly) for the duration of the test."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        pytest.fail("A test using the live worker needs @pytest.mark.django_db(transaction=True).")
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.task_default_queue)
    conf.task_always_eager = False
    conf.task_default_queue = live_celery_worker_process.queue
    try:
        yield live_celery_worker_process
    finally:
        conf.task_always_eager, conf.task_default_queue = previous
