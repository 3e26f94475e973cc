"""Reads about customers that more than one service needs."""

from brands.selectors import brand_ids_for_user
from customers.models import Customer


def customer_known_beyond(*, customer: Customer, user) -> bool:
    """Whether a brand outside `user`'s brands also knows the customer (never, for superusers).
    Staff may then not erase them or move their sign-in email: the person is not only theirs."""
    brand_ids = brand_ids_for_user(user)
    if brand_ids is None:
        return False
    return customer.brand_links.exclude(brand_id__in=brand_ids).exists()
