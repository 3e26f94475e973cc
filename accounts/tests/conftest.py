import pytest

from brands.tests.factories import StaffUserFactory
from customers.services import customer_create

PASSWORD = "pass-word-123"


@pytest.fixture
def customer():
    return customer_create(brand=None, email="jane@example.com", password=PASSWORD)


@pytest.fixture
def staff():
    return StaffUserFactory(username="clerk")


@pytest.fixture
def small_lockout(settings):
    """Lock after 3 failures, for 15 minutes."""
    settings.AXES_FAILURE_LIMIT = 3
    return settings
