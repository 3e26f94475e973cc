"""The OpenAPI schema of the customers, catalog, orders and labels API: valid, no warnings."""

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

OUR_MODULES = ("customers/api", "catalog/api", "orders/api", "labels/api")
OUR_VIEWS = (
    "CustomerViewSet",
    "MeView",
    "CategoryViewSet",
    "ProductViewSet",
    "OrderViewSet",
    "LabelViewSet",
)
WRITE_OPERATIONS = [
    ("/api/v1/customers/", "post"),
    ("/api/v1/customers/{id}/", "patch"),
    ("/api/v1/me/", "patch"),
    ("/api/v1/orders/", "post"),
    ("/api/v1/orders/{id}/payment-status/", "post"),
    ("/api/v1/labels/", "post"),
    ("/api/v1/labels/{id}/assign/", "post"),
    ("/api/v1/labels/{id}/unassign/", "post"),
]


@pytest.fixture(scope="module")
def generated():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, messages


def test_the_schema_is_valid_openapi(generated):
    schema, _ = generated

    validate_schema(schema)


def test_no_warning_comes_from_these_apis(generated):
    _, messages = generated

    ours = [m for m in messages if any(name in m for name in OUR_MODULES + OUR_VIEWS)]
    assert ours == []


@pytest.mark.parametrize(("path", "method"), WRITE_OPERATIONS)
def test_write_operations_document_their_input_and_the_error_format(generated, path, method):
    schema, _ = generated
    operation = schema["paths"][path][method]

    assert "requestBody" in operation
    for status in ("400", "401", "403"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}


def test_lists_are_paginated_and_filterable(generated):
    schema, _ = generated
    orders = schema["paths"]["/api/v1/orders/"]["get"]
    parameters = {parameter["name"] for parameter in orders["parameters"]}

    assert {"page", "page_size", "payment_status", "channel", "store", "customer"} <= parameters
    assert {"created_after", "created_before"} <= parameters
    ok = orders["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PaginatedOrderOutputList"}


def test_the_idempotency_key_header_is_documented(generated):
    schema, _ = generated
    create = schema["paths"]["/api/v1/orders/"]["post"]

    headers = {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    assert {"200", "201", "409"} <= set(create["responses"])
