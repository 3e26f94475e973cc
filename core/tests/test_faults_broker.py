"""Fault suite with real processes: the broker (a Redis of the test's own) is killed while orders
are paid and refunded through the API, and a worker is killed with SIGKILL in the middle of a
task. Every request must answer 2xx, and once the broker is back and the outbox sweep has run,
every award, reversal, rule firing and notification must exist exactly once."""

import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.utils import timezone

from config.celery_app import app as celery_app
from core.models import OutboxMessage
from core.outbox import outbox_sweep
from core.tests.api_world import build_tenant, token_client
from core.tests.celery_worker import _reset_broker_connections, _stop, broker_at, start_worker
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.services.ledger import account_get_or_create
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.models import Notification, NotificationDelivery, NotificationTemplate
from orders.models import Order
from orders.tests.factories import place_order
from rules.models import Event, RuleFiring
from rules.tests.factories import make_rule

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PS = Order.PaymentStatus
WAIT_SECONDS = 90
PAID_WHILE_DOWN = 12
REFUNDED_WHILE_DOWN = 4
WORKER_ENV = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}


@pytest.fixture
def broker(redis_server):
    """A broker of the test's own, which it kills and starts again."""
    with broker_at(redis_server.url, queue=f"faults-{redis_server.port}"):
        yield redis_server


@pytest.fixture
def world():
    """A brand with a loyalty program, rules on paid and refunded orders that notify, an email
    template for earned points, and its staff's API client."""
    tenant = build_tenant("f")
    LoyaltyProgramFactory(brand=tenant.brand, points_per_unit=Decimal("1.00"))
    for event in (Event.ORDER_PAID, Event.ORDER_REFUNDED):
        make_rule(
            name=f"Notify {event}",
            event=event,
            brand=tenant.brand,
            actions=[("NOTIFY", {"event": f"rules.{event.replace('.', '_')}"})],
        )
    NotificationTemplate.objects.create(
        event="loyalty.points.earned",
        channel="email",
        brand=None,
        subject="You earned {{ points }} points",
        body="Thank you.",
    )
    tenant.extra["client"] = token_client(tenant.staff)
    return tenant


def new_orders(tenant, count: int) -> list[Order]:
    return [
        place_order(
            brand=tenant.brand,
            products_and_quantities=[(tenant.product, 1)],
            store=tenant.store,
            customer=tenant.customer,
        )
        for _ in range(count)
    ]


def set_status(tenant, order: Order, status: str, statuses: Counter) -> None:
    response = tenant.extra["client"].post(
        f"/api/v1/orders/{order.pk}/payment-status/", {"payment_status": status}, format="json"
    )
    statuses[response.status_code] += 1


def wait_until_outbox_done(worker) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if not OutboxMessage.objects.filter(done_at__isnull=True).exists():
            return
        time.sleep(0.2)
    pending = list(OutboxMessage.objects.filter(done_at__isnull=True).values("task", "last_error"))
    pytest.fail(f"Outbox not done: {pending}\n{worker.log()[-4000:]}")


def effects(orders: list[Order]) -> dict[str, Counter]:
    ids = [order.pk for order in orders]
    return {
        "earned": Counter(
            LoyaltyTransaction.objects.filter(order_id__in=ids, kind="earned").values_list(
                "order_id", flat=True
            )
        ),
        "reversed": Counter(
            LoyaltyTransaction.objects.filter(order_id__in=ids, kind="reversed").values_list(
                "order_id", flat=True
            )
        ),
        "firings": Counter(
            RuleFiring.objects.filter(object_type="order", object_id__in=ids).values_list(
                "event", "object_id"
            )
        ),
        "emails": Counter(
            NotificationDelivery.objects.filter(
                channel="email",
                notification__event="loyalty.points.earned",
                notification__payload__order_id__in=ids,
            ).values_list("notification__payload__order_id", "status", "attempts")
        ),
    }


def test_with_the_broker_killed_payments_answer_and_every_effect_happens_once_later(
    broker, world, figures
):
    worker = start_worker(broker_url=broker.url, queue=f"faults-{broker.port}", env=WORKER_ENV)
    statuses: Counter = Counter()
    try:
        paid_orders = new_orders(world, PAID_WHILE_DOWN)
        refunded_orders = paid_orders[:REFUNDED_WHILE_DOWN]

        # When the broker dies, then orders are paid and some refunded through the API
        broker.kill()
        for order in paid_orders:
            set_status(world, order, PS.PAID, statuses)
        for order in refunded_orders:
            set_status(world, order, PS.REFUNDED, statuses)

        # Then every request answered 2xx, the changes committed, and nothing ran yet
        assert set(statuses) == {200}, statuses
        assert Order.objects.filter(pk__in=[o.pk for o in paid_orders], payment_status=PS.PAID)
        assert not LoyaltyTransaction.objects.exists()
        owed = OutboxMessage.objects.filter(done_at__isnull=True).count()
        assert owed >= 2 * PAID_WHILE_DOWN + 2 * REFUNDED_WHILE_DOWN

        # When the broker is back (empty: what it held died with it) and the sweep runs
        broker.start()
        outbox_sweep(now=timezone.now() + timedelta(minutes=1))
        wait_until_outbox_done(worker)

        # Then every effect exists exactly once: the orders kept earned once, the orders
        # refunded before their award ran earned nothing (so nothing to reverse), and each
        # payment change fired its rule and notification once
        found = effects(paid_orders)
        refunded_ids = {o.pk for o in refunded_orders}
        kept_ids = {o.pk for o in paid_orders} - refunded_ids
        assert found["earned"] == Counter(dict.fromkeys(kept_ids, 1))
        assert found["reversed"] == Counter()
        assert found["firings"] == Counter(
            {(Event.ORDER_PAID, o.pk): 1 for o in paid_orders}
            | {(Event.ORDER_REFUNDED, pk): 1 for pk in refunded_ids}
        )
        assert found["emails"] == Counter({(pk, "sent", 1): 1 for pk in kept_ids})
        assert Notification.objects.filter(event="rules.order_paid").count() == PAID_WHILE_DOWN
        assert (
            Notification.objects.filter(event="rules.order_refunded").count() == REFUNDED_WHILE_DOWN
        )
        account = LoyaltyAccount.objects.get(customer=world.customer)
        kept = PAID_WHILE_DOWN - REFUNDED_WHILE_DOWN
        assert account.available_points + account.pending_points == kept * 12
    finally:
        _stop(worker, purge=False)
    lost = sum(1 for pk in kept_ids if found["earned"][pk] == 0)
    duplicates = sum(count - 1 for counter in found.values() for count in counter.values())
    figures(
        f"broker killed: {sum(statuses.values())} requests sent, "
        f"{sum(n for code, n in statuses.items() if code >= 500)} answered 5xx, "
        f"{owed} effects owed while down, {lost} lost, {duplicates} duplicates"
    )


def waiting_on_a_lock() -> bool:
    """Whether another session (the worker's task) waits for a row lock right now."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_task_leaves_its_effect_to_the_sweep_which_does_it_once(
    broker, world, figures
):
    worker = start_worker(broker_url=broker.url, queue=f"faults-{broker.port}", env=WORKER_ENV)
    order = new_orders(world, 1)[0]
    program = world.brand.loyalty_program
    account = account_get_or_create(customer=world.customer, program=program)
    holding, release = threading.Event(), threading.Event()

    def hold_the_account_lock() -> None:
        # Another transaction holds the account row, so the award task waits on it
        try:
            with transaction.atomic():
                LoyaltyAccount.objects.select_for_update().get(pk=account.pk)
                holding.set()
                release.wait(WAIT_SECONDS)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_account_lock)
    holder.start()
    try:
        assert holding.wait(10)
        # When the order is paid, its award task starts on the worker and blocks on the lock
        statuses: Counter = Counter()
        set_status(world, order, PS.PAID, statuses)
        assert statuses == Counter({200: 1})
        award = OutboxMessage.objects.get(task="marketing.award_loyalty_points_for_order")
        deadline = time.monotonic() + WAIT_SECONDS
        while not waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert waiting_on_a_lock(), worker.log()[-4000:]  # inside the task, on the account row

        # And the worker is killed with SIGKILL mid-task
        worker.process.kill()
        worker.process.wait()
    finally:
        release.set()
        holder.join()

    # Then the award did not happen and its message is not done
    assert not LoyaltyTransaction.objects.filter(order=order).exists()
    award.refresh_from_db()
    assert award.done_at is None

    # When a new worker runs and the sweep finds the message past its due time
    worker = start_worker(broker_url=broker.url, queue=worker.queue, env=WORKER_ENV)
    try:
        outbox_sweep(now=award.due_at + timedelta(seconds=1))
        wait_until_outbox_done(worker)
    finally:
        _stop(worker, purge=False)

    # Then the order earned exactly once
    earned = LoyaltyTransaction.objects.filter(order=order, kind="earned").count()
    figures(
        f"worker killed mid-task: 1 award owed, {1 - min(earned, 1)} lost, "
        f"{max(earned - 1, 0)} duplicates"
    )
    assert earned == 1
    assert LoyaltyTransaction.objects.get(order=order, kind="earned").points == 12


def test_with_the_broker_hung_a_payment_answers_after_the_socket_timeout_and_nothing_is_lost(
    broker, world, figures
):
    # Given a worker, and a broker that will hang (it accepts connections, never answers)
    worker = start_worker(broker_url=broker.url, queue=f"faults-{broker.port}", env=WORKER_ENV)
    order = new_orders(world, 1)[0]
    options = celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = {**options, "socket_timeout": 1}
    _reset_broker_connections()
    statuses: Counter = Counter()
    try:
        broker.freeze()

        # When the order is paid through the API
        started = time.monotonic()

        def pay() -> None:
            try:
                set_status(world, order, PS.PAID, statuses)
            finally:
                connections.close_all()  # this thread's own connection

        payer = threading.Thread(target=pay)
        payer.start()
        payer.join(WAIT_SECONDS)
        answered_in = time.monotonic() - started

        # Then it answered (after the publish timed out), and the payment committed
        assert not payer.is_alive(), "the request hung on the broker"
        assert statuses == Counter({200: 1})
        order.refresh_from_db()
        assert order.payment_status == PS.PAID

        # When the broker answers again and the sweep runs
        broker.thaw()
        outbox_sweep(now=timezone.now() + timedelta(minutes=1))
        wait_until_outbox_done(worker)
    finally:
        broker.thaw()
        celery_app.conf.broker_transport_options = options
        _reset_broker_connections()
        _stop(worker, purge=False)

    # Then the order earned exactly once
    earned = LoyaltyTransaction.objects.filter(order=order, kind="earned").count()
    figures(
        f"broker hung: 1 request, {statuses[200]} answered 200 after {answered_in:.1f} s, "
        f"{1 - min(earned, 1)} lost, {max(earned - 1, 0)} duplicates"
    )
    assert earned == 1
