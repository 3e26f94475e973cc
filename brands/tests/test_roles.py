"""Staff roles: groups with permissions, created by a migration and kept in sync additively."""

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission

from brands.roles import (
    ANALYST,
    BRAND_ADMIN,
    MARKETING_MANAGER,
    ROLE_PERMISSIONS,
    STORE_MANAGER,
    SUPPORT_AGENT,
    sync_roles,
)

pytestmark = pytest.mark.django_db


def _codenames(role: str) -> set[str]:
    return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))


def test_the_migration_created_every_role():
    names = set(Group.objects.values_list("name", flat=True))

    assert {BRAND_ADMIN, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT, ANALYST} <= names


def test_analyst_can_only_view_and_views_every_domain_model():
    codenames = _codenames(ANALYST)

    assert codenames
    assert all(codename.startswith("view_") for codename in codenames)
    assert {"view_order", "view_customer", "view_product", "view_label", "view_store"} <= codenames


def test_brand_admin_manages_its_brand_but_not_brands_or_the_audit():
    codenames = _codenames(BRAND_ADMIN)

    assert {"add_product", "delete_product", "change_customer", "add_posdevice"} <= codenames
    assert {"change_order", "add_label", "delete_customerlabel"} <= codenames
    assert {"add_brand", "delete_brand"}.isdisjoint(codenames)
    assert "change_paymentstatuschange" not in codenames
    assert {"add_notificationtemplate", "view_notification"} <= codenames
    assert "delete_notification" not in codenames


def test_marketing_manager_owns_labels_and_reads_the_rest():
    codenames = _codenames(MARKETING_MANAGER)

    assert {"add_label", "change_label", "add_customerlabel", "change_customer"} <= codenames
    assert {"view_product", "view_order"} <= codenames
    assert {"change_order", "change_product", "add_customer", "delete_customer"}.isdisjoint(
        codenames
    )


def test_store_manager_runs_stores_and_orders():
    codenames = _codenames(STORE_MANAGER)

    assert {"add_order", "change_order", "view_order"} <= codenames
    assert {"add_store", "change_store", "add_posdevice", "change_posdevice"} <= codenames
    assert {"change_product", "add_customer", "view_customer"} <= codenames
    assert {"delete_order", "add_product", "change_customer", "change_label"}.isdisjoint(codenames)


def test_support_agent_helps_customers_with_their_orders():
    codenames = _codenames(SUPPORT_AGENT)

    assert {"change_customer", "change_order", "view_label"} <= codenames
    assert {"change_label", "add_order", "delete_customer", "change_product"}.isdisjoint(codenames)


def test_sync_roles_again_is_idempotent():
    sync_roles(global_apps)
    before = {role: _codenames(role) for role in ROLE_PERMISSIONS}

    sync_roles(global_apps)

    assert {role: _codenames(role) for role in ROLE_PERMISSIONS} == before
    assert Group.objects.filter(name__in=ROLE_PERMISSIONS).count() == len(ROLE_PERMISSIONS)


def test_sync_roles_is_additive_and_skips_models_that_do_not_exist_yet():
    # Given a permission granted by hand to the analyst role
    analyst = Group.objects.get(name=ANALYST)
    extra = Permission.objects.get(codename="change_label")
    analyst.permissions.add(extra)

    # When a later spec extends a role and names a model that does not exist
    sync_roles(
        global_apps,
        spec={
            ANALYST: [
                ("labels", "label", ["add"]),
                ("labels", "labelgroupnotyetbuilt", ["view"]),
                ("appnotyetbuilt", "*", ["view"]),
            ],
            "Auditor": [("orders", "paymentstatuschange", ["view"])],
        },
    )

    # Then nothing is removed, the new permission is granted and the unknown one is skipped
    codenames = _codenames(ANALYST)
    assert {"change_label", "add_label", "view_order"} <= codenames
    assert "view_labelgroupnotyetbuilt" not in codenames
    assert _codenames("Auditor") == {"view_paymentstatuschange"}


@pytest.mark.django_db(transaction=True)
def test_roles_are_restored_after_the_database_is_flushed():
    from django.core.management import call_command

    call_command("flush", verbosity=0, interactive=False)

    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_PERMISSIONS)
    assert Group.objects.get(name=ANALYST).permissions.exists()
