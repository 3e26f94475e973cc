"""Ten requests with the same Idempotency-Key at once, against PostgreSQL: one order."""

import threading

import pytest
from django.db import connection

from core.tests.api_world import build_tenant, token_client
from orders.models import Order, OrderLine

THREADS = 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_create_exactly_one_order():
    # Given a customer and a basket
    a = build_tenant("a")
    body = {
        "brand": "brand-a",
        "lines": [{"product": a.product.pk, "quantity": 1}, {"sku": "BREAD-a", "quantity": 2}],
    }
    client_user = a.customer.user
    token_client(client_user)  # create the token before the threads start
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def place():
        try:
            client = token_client(client_user)
            barrier.wait(timeout=10)
            response = client.post("/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="same-key")
            results.append((response.status_code, response.json()))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    # When ten threads send it with the same key at the same moment
    threads = [threading.Thread(target=place) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then exactly one order exists, one request created it and the others got it back
    assert not errors
    assert len(results) == THREADS
    orders = Order.objects.filter(idempotency_key="same-key")
    assert orders.count() == 1
    order = orders.get()
    assert OrderLine.objects.filter(order=order).count() == 2
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (THREADS - 1) + [201]
    assert {body["id"] for _, body in results} == {order.pk}
