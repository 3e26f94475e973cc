"""`manage.py customer_export <id> [--output FILE] [--actor USERNAME]`: a customer's data."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from customers.gdpr import customer_export
from customers.management.commands.customer_erase import actor_by_username, customer_by_id


class Command(BaseCommand):
    help = "Write one customer's personal data as one JSON document (audited)."

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)
        parser.add_argument("--output", help="File to write; standard output by default.")
        parser.add_argument(
            "--actor", help="Username recorded as having asked; every brand's data is exported."
        )

    def handle(self, *args, customer_id: int, output: str | None, actor: str | None, **options):
        user = actor_by_username(actor) if actor else None
        # Run by an operator: the document covers every brand.
        document = customer_export(
            customer=customer_by_id(customer_id), actor=user, via="command", any_brand=True
        )
        text = json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as file:
                    file.write(text + "\n")
            except OSError as error:
                raise CommandError(f"Could not write {output}: {error.strerror}.") from error
            self.stderr.write(f"Customer {customer_id} exported to {output}.")
        else:
            self.stdout.write(text)
