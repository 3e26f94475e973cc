"""`manage.py create_pos_devices`: devices created in bulk, each key printed once and valid."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brands.models import PosDevice
from brands.services import pos_device_authenticate
from brands.tests.factories import StoreFactory


@pytest.mark.django_db
def test_it_creates_devices_whose_printed_keys_authenticate():
    store = StoreFactory(code="main")
    out = StringIO()

    call_command("create_pos_devices", f"{store.brand.slug}/main", "--count", "3", stdout=out)

    keys = out.getvalue().split()
    assert len(keys) == 3
    assert {pos_device_authenticate(raw_key=key) for key in keys} == set(
        PosDevice.objects.filter(store=store)
    )
    assert sorted(PosDevice.objects.values_list("name", flat=True)) == [
        "Till 1",
        "Till 2",
        "Till 3",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["nobrand/nostore"], ["x/y", "--count", "0"]])
def test_it_refuses_an_unknown_store_or_a_bad_count(args):
    with pytest.raises(CommandError):
        call_command("create_pos_devices", *args, stdout=StringIO())
    assert not PosDevice.objects.exists()
