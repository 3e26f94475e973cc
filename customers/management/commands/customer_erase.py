"""`manage.py customer_erase <id> --actor USERNAME`: erase a customer's personal data."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers.gdpr import customer_erase
from customers.models import Customer


def customer_by_id(customer_id: int) -> Customer:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise CommandError(f"There is no customer {customer_id}.")
    return customer


def actor_by_username(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"There is no active user {username!r} to record as the actor.")
    return user


class Command(BaseCommand):
    help = (
        "Erase one customer's personal data (name, email, phone, birth date, login, "
        "notification texts); orders and points are kept. Audited; running it again does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)
        parser.add_argument(
            "--actor", required=True, help="Username of the person who asked (audited)."
        )

    def handle(self, *args, customer_id: int, actor: str, **options):
        user = actor_by_username(actor)
        customer = customer_by_id(customer_id)
        # The operator acts for every brand, whatever brands the named user works for.
        erased = customer_erase(customer=customer, actor=user, via="command", any_brand=True)
        if erased:
            self.stdout.write(f"Customer {customer_id}: personal data erased.")
        else:
            self.stdout.write(f"Customer {customer_id}: already erased; nothing changed.")
