"""The transactional outbox: written with the change, sent after the commit, swept until done."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import OutboxMessage
from core.outbox import outbox_enqueue, outbox_purge, outbox_sweep
from core.tests.celery_worker import closed_port_broker
from loyalty_management.models import LoyaltyTransaction
from loyalty_management.tests.factories import LoyaltyProgramFactory, make_order
from orders.models import Order
from orders.services.payment import order_set_payment_status

pytestmark = pytest.mark.django_db(transaction=True)
PS = Order.PaymentStatus
AWARD = "marketing.award_loyalty_points_for_order"


@pytest.fixture
def paid_order():
    """A pending 19.90 order of a brand with a program, paid without its after-commit work."""
    program = LoyaltyProgramFactory()
    order = make_order(brand=program.brand, customer=None, total="19.90")
    from customers.tests.factories import CustomerFactory

    Order.objects.filter(pk=order.pk).update(customer=CustomerFactory(), payment_status=PS.PAID)
    return order


def test_a_message_is_written_with_the_change_and_done_once_its_task_succeeds(paid_order):
    # When a message is owed in a transaction that commits (tasks run eagerly here)
    with transaction.atomic():
        message = outbox_enqueue(task=AWARD, kwargs={"order_id": paid_order.pk})
        # Then it is written, not done, while the transaction is open
        assert OutboxMessage.objects.get(pk=message.pk).done_at is None

    # Then after the commit the task ran and the message is done
    message.refresh_from_db()
    assert message.done_at is not None
    assert LoyaltyTransaction.objects.filter(order=paid_order, kind="earned").count() == 1


def test_a_rolled_back_change_owes_nothing(paid_order):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task=AWARD, kwargs={"order_id": paid_order.pk})
        raise RuntimeError("the change fails")

    assert OutboxMessage.objects.count() == 0
    assert not LoyaltyTransaction.objects.filter(order=paid_order).exists()


def test_with_the_broker_down_the_commit_succeeds_and_every_message_waits_for_the_sweep(
    paid_order, settings
):
    # Given a broker nobody listens on (a real connection, refused)
    with closed_port_broker():
        # When a change owing three effects commits
        with transaction.atomic():
            for _ in range(3):
                outbox_enqueue(task=AWARD, kwargs={"order_id": paid_order.pk})

        # Then nothing raised, nothing ran, and all three (not just the first) are due now
        messages = list(OutboxMessage.objects.order_by("pk"))
        assert len(messages) == 3
        assert all(m.done_at is None for m in messages)
        # due again after the send retry delay, not at once and not after the full resend delay
        assert all(m.due_at <= timezone.now() + timedelta(seconds=30) for m in messages)
        assert all("Error" in m.last_error for m in messages)
        assert not LoyaltyTransaction.objects.filter(order=paid_order).exists()

    # When the broker is back and the sweep runs after that delay
    sent = outbox_sweep(now=timezone.now() + timedelta(seconds=31))

    # Then each is sent once more, done, and the order earned once
    assert sent == 3
    assert OutboxMessage.objects.filter(done_at__isnull=True).count() == 0
    assert set(OutboxMessage.objects.values_list("sends", flat=True)) == {1}
    assert LoyaltyTransaction.objects.filter(order=paid_order, kind="earned").count() == 1


def test_a_payment_change_with_the_broker_down_commits_and_its_award_follows_the_sweep(
    paid_order,
):
    # Given a pending order (reset from the fixture)
    Order.objects.filter(pk=paid_order.pk).update(payment_status=PS.PENDING)

    # When it is paid while the broker is down
    with closed_port_broker():
        order_set_payment_status(order_id=paid_order.pk, to_status=PS.PAID)
    paid_order.refresh_from_db()
    assert paid_order.payment_status == PS.PAID
    assert not LoyaltyTransaction.objects.filter(order=paid_order).exists()

    # Then the sweep does the award
    outbox_sweep(now=timezone.now() + timedelta(seconds=31))
    assert LoyaltyTransaction.objects.filter(order=paid_order, kind="earned").count() == 1


def test_the_sweep_sends_only_what_is_due_and_not_done():
    now = timezone.now()
    due = OutboxMessage.objects.create(task=AWARD, kwargs={"order_id": 0}, due_at=now)
    later = OutboxMessage.objects.create(
        task=AWARD, kwargs={"order_id": 0}, due_at=now + timedelta(minutes=1)
    )
    done = OutboxMessage.objects.create(task=AWARD, kwargs={"order_id": 0}, due_at=now)
    OutboxMessage.objects.filter(pk=done.pk).update(done_at=now)
    # A task no worker knows can never be sent: it stays owed, with the reason
    unknown = OutboxMessage.objects.create(task="core.no_such_task", kwargs={}, due_at=now)

    assert outbox_sweep(now=now) == 1

    due.refresh_from_db()
    later.refresh_from_db()
    done.refresh_from_db()
    unknown.refresh_from_db()
    assert due.done_at is not None and due.sends == 1
    assert later.sends == 0 and later.done_at is None
    assert done.sends == 0
    assert unknown.done_at is None and "NotRegistered" in unknown.last_error
    # a failed send is due again after a short delay that doubles per send, not every minute
    assert now < unknown.due_at <= timezone.now() + timedelta(seconds=60)


def test_each_send_of_a_message_not_done_doubles_its_delay_up_to_the_maximum(settings):
    # Given messages already sent 0 to 3 times, due now
    settings.OUTBOX_RESEND_AFTER_SECONDS = 60
    settings.OUTBOX_RESEND_MAX_SECONDS = 300
    now = timezone.now()
    messages = [
        OutboxMessage.objects.create(task="core.outbox_purge", kwargs={}, due_at=now, sends=n)
        for n in range(4)
    ]

    # When the sweep sends them
    outbox_sweep(now=now)

    # Then each is next due after 60 s doubled per send so far, at most 300 s
    delays = [(OutboxMessage.objects.get(pk=m.pk).due_at - now).total_seconds() for m in messages]
    assert delays == [120, 240, 300, 300]


def test_purge_deletes_only_messages_done_before_the_retention(settings):
    settings.OUTBOX_RETENTION_DAYS = 7
    now = timezone.now()
    old = OutboxMessage.objects.create(task=AWARD, kwargs={}, due_at=now)
    recent = OutboxMessage.objects.create(task=AWARD, kwargs={}, due_at=now)
    pending = OutboxMessage.objects.create(task=AWARD, kwargs={}, due_at=now - timedelta(days=30))
    OutboxMessage.objects.filter(pk=old.pk).update(done_at=now - timedelta(days=8))
    OutboxMessage.objects.filter(pk=recent.pk).update(done_at=now - timedelta(days=6))

    assert outbox_purge(now=now) == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


def test_superusers_see_the_backlog_in_the_admin_and_can_send_it_again(client, paid_order):
    from django.contrib.auth import get_user_model

    from core.tests.api_world import staff_user

    # Given an award owed since the broker was down
    with closed_port_broker(), transaction.atomic():
        message = outbox_enqueue(task=AWARD, kwargs={"order_id": paid_order.pk})
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345")
    url = "/admin/core/outboxmessage/"

    # Then brand staff do not see the outbox, superusers do
    client.force_login(staff_user("brand-staff", brands=[paid_order.brand]))
    assert client.get(url).status_code == 403
    client.force_login(superuser)
    page = client.get(url, {"state": "pending"})
    assert page.status_code == 200
    assert AWARD in page.content.decode()

    # When a superuser sends it again from the list
    response = client.post(
        url, {"action": "send_again_now", "_selected_action": [message.pk]}, follow=True
    )

    # Then it ran and is done
    assert "1 of 1 messages not done yet were sent again." in response.content.decode()
    message.refresh_from_db()
    assert message.done_at is not None
    assert LoyaltyTransaction.objects.filter(order=paid_order, kind="earned").count() == 1
