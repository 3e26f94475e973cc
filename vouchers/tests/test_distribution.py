"""Distribution: each reachable customer of a label gets one distinct code of a batch and one
notice; re-runs and concurrent runs give and send nothing twice; running out is reported."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from brands.tests.factories import BrandFactory
from core.errors import ApplicationError
from core.models import OutboxMessage
from core.tests.api_world import build_tenant
from customers.models import Customer
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from notifications.defaults import default_templates_install
from notifications.models import Notification
from notifications.services import NotificationService
from vouchers.distribution import (
    ASSIGNED_EVENT,
    voucher_batch_distribute,
    voucher_batch_distribution_request,
)
from vouchers.models import VoucherCode
from vouchers.services import voucher_batch_void
from vouchers.tests.factories import batch, voucher_promotion

pytestmark = pytest.mark.django_db


def newsletter(tenant, count: int) -> tuple[Label, list[Customer]]:
    """A customer label of the tenant's brand with `count` reachable customers."""
    label = Label.objects.create(name="Newsletter", type=Label.Type.CUSTOMER, brand=tenant.brand)
    customers = [
        customer_create(brand=tenant.brand, email=f"reader-{i}@example.com", first_name=f"R{i}")
        for i in range(count)
    ]
    CustomerLabel.objects.bulk_create(CustomerLabel(label=label, customer=c) for c in customers)
    return label, customers


def codes_by_customer(made) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {}
    for customer_id, code in VoucherCode.objects.filter(
        batch=made, customer__isnull=False
    ).values_list("customer_id", "code"):
        held.setdefault(customer_id, []).append(code)
    return held


def notices() -> list[Notification]:
    return list(Notification.objects.filter(event=ASSIGNED_EVENT).order_by("pk"))


def test_each_reachable_customer_of_the_label_gets_one_distinct_code_and_a_notice(a):
    # Given a batch of 10 codes and a label of 4 reachable customers, one erased, one without
    # an email, and one whom the brand does not know
    default_templates_install()
    made = batch(voucher_promotion(a, name="Spring ten"), quantity=10)
    label, readers = newsletter(a, 4)
    erased = customer_create(brand=a.brand, email="gone@example.com")
    Customer.objects.filter(pk=erased.pk).update(email=None, erased_at=timezone.now())
    silent = customer_create(brand=a.brand, first_name="No mail")
    stranger = customer_create(brand=BrandFactory(slug="other"), email="elsewhere@example.com")
    CustomerLabel.objects.bulk_create(
        CustomerLabel(label=label, customer=c) for c in (erased, silent, stranger)
    )

    # When the batch is sent to the label
    result = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk, chunk=3)

    # Then each reader holds exactly one code, all different, and nobody else holds one
    held = codes_by_customer(made)
    assert set(held) == {c.pk for c in readers}
    assert all(len(codes) == 1 for codes in held.values())
    assert len({codes[0] for codes in held.values()}) == 4
    assert VoucherCode.objects.filter(batch=made, assigned_at__isnull=False).count() == 4
    assert (result.assigned, result.already, result.without_code) == (4, 0, 0)
    assert (result.skipped_erased, result.skipped_no_email, result.exhausted) == (1, 1, False)
    assert result.chunks == 2
    # And each was told their own code, in the inbox and by email
    sent = notices()
    assert sorted(n.customer_id for n in sent) == sorted(held)
    for notice in sent:
        code = held[notice.customer_id][0]
        assert notice.payload["code"] == code
        assert notice.payload["promotion"] == "Spring ten"
        assert notice.brand_id == a.brand.pk
        assert code in notice.inbox_message.body
        email = notice.deliveries.get(channel="email")
        assert email.status == "pending" and code in email.body
        assert "Spring ten" in email.subject


def test_a_second_run_gives_nothing_new_and_sends_nothing_new(a):
    made = batch(voucher_promotion(a), quantity=10)
    label, _ = newsletter(a, 3)
    voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)
    first_codes, first_notices = codes_by_customer(made), notices()

    again = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)

    assert (again.assigned, again.already, again.without_code) == (0, 3, 0)
    assert codes_by_customer(made) == first_codes
    assert notices() == first_notices
    # A customer added to the label since gets one on the next run, and only they do
    late = customer_create(brand=a.brand, email="late@example.com")
    CustomerLabel.objects.create(label=label, customer=late)
    third = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)
    assert (third.assigned, third.already) == (1, 3)
    assert [n.customer_id for n in notices()[len(first_notices) :]] == [late.pk]


def test_when_the_codes_run_out_the_run_stops_and_reports_who_got_none(a):
    made = batch(voucher_promotion(a), quantity=3)
    label, readers = newsletter(a, 5)

    result = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk, chunk=2)

    assert (result.assigned, result.exhausted, result.without_code) == (3, True, 2)
    assert result.chunks == 2  # the third chunk is not read
    assert set(codes_by_customer(made)) == {c.pk for c in readers[:3]}
    assert len(notices()) == 3
    again = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk, chunk=2)
    assert (again.assigned, again.exhausted, again.without_code) == (0, True, 2)


def test_a_code_used_or_voided_is_never_sent(a):
    made = batch(voucher_promotion(a), quantity=3)
    first, second, third = made.codes.order_by("pk")
    VoucherCode.objects.filter(pk=first.pk).update(uses=1)  # used by someone already
    VoucherCode.objects.filter(pk=second.pk).update(status=VoucherCode.Status.VOIDED)
    label, readers = newsletter(a, 2)

    result = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)

    assert codes_by_customer(made) == {readers[0].pk: [third.code]}
    assert (result.assigned, result.without_code) == (1, 1)


def test_a_notice_that_is_not_recorded_gives_the_code_back(a, monkeypatch):
    made = batch(voucher_promotion(a), quantity=5)
    label, readers = newsletter(a, 2)
    real = NotificationService.send_notification

    def failing_for_the_first(**kwargs):
        return None if kwargs["customer"].pk == readers[0].pk else real(**kwargs)

    monkeypatch.setattr(NotificationService, "send_notification", failing_for_the_first)
    result = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)

    assert (result.assigned, result.failed, result.without_code) == (1, 1, 1)
    assert set(codes_by_customer(made)) == {readers[1].pk}
    monkeypatch.undo()
    retry = voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)
    assert (retry.assigned, retry.already, retry.without_code) == (1, 1, 0)
    assert sorted(n.customer_id for n in notices()) == sorted(c.pk for c in readers)


def test_batches_and_labels_that_cannot_be_distributed_are_refused(a, b):
    promotion = voucher_promotion(a)
    made = batch(promotion, quantity=2)
    label, _ = newsletter(a, 1)
    products = Label.objects.create(name="Vegan", type=Label.Type.PRODUCT, brand=a.brand)
    theirs = Label.objects.create(name="Theirs", type=Label.Type.CUSTOMER, brand=b.brand)
    personal = batch(promotion, quantity=1, customer=a.customer)

    refusals = {}
    for name, batch_id, label_id in (
        ("product label", made.pk, products.pk),
        ("other brand's label", made.pk, theirs.pk),
        ("personal batch", personal.pk, label.pk),
    ):
        with pytest.raises(ApplicationError) as refused:
            voucher_batch_distribute(batch_id=batch_id, label_id=label_id)
        refusals[name] = refused.value.code
    voucher_batch_void(batch_id=made.pk)
    with pytest.raises(ApplicationError) as voided:
        voucher_batch_distribute(batch_id=made.pk, label_id=label.pk)

    assert refusals == {
        "product label": "invalid_label",
        "other brand's label": "invalid_label",
        "personal batch": "voucher_batch_personal",
    }
    assert voided.value.code == "voucher_batch_voided"
    assert notices() == []


def test_a_request_owes_the_distribution_to_a_worker_through_the_outbox(a):
    made = batch(voucher_promotion(a), quantity=2)
    label, _ = newsletter(a, 1)

    voucher_batch_distribution_request(batch_id=made.pk, label_id=label.pk, actor=a.staff)

    message = OutboxMessage.objects.get(task="vouchers.distribute_batch")
    assert message.kwargs == {"batch_id": made.pk, "label_id": label.pk}
    assert notices() == []  # nothing is sent before the worker runs


RUNS = 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_give_each_customer_exactly_one_code_and_one_notice():
    # Given 40 customers in the label and 60 codes
    a = build_tenant("a")
    made = batch(voucher_promotion(a), quantity=60)
    label, readers = newsletter(a, 40)
    barrier = threading.Barrier(RUNS)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(voucher_batch_distribute(batch_id=made.pk, label_id=label.pk, chunk=7))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    # When four runs start at the same moment
    threads = [threading.Thread(target=run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    # Then every customer holds exactly one code, and was told once
    assert not errors
    held = codes_by_customer(made)
    assert set(held) == {c.pk for c in readers}
    assert all(len(codes) == 1 for codes in held.values())
    assert sum(r.assigned for r in results) == 40
    sent = notices()
    assert sorted(n.customer_id for n in sent) == sorted(held)
    assert {n.customer_id: n.payload["code"] for n in sent} == {
        customer_id: codes[0] for customer_id, codes in held.items()
    }
