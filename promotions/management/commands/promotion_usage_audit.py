"""`manage.py promotion_usage_audit [--fix] [--promotion ID ...]`: compare the promotion usage
counters with the sums of the usage ledger and report every difference; `--fix` sets the
counters back to the ledger's sums. Exits with status 1 when drift is found and not fixed."""

from django.core.management.base import BaseCommand

from promotions.selectors import UsageDrift, usage_drift
from promotions.services.usage import usage_reconcile


def _describe(drift: UsageDrift) -> str:
    who = "" if drift.customer_id is None else f" customer {drift.customer_id}"
    text = f"promotion {drift.promotion_id}{who}: {drift.counter_uses} uses counted, "
    text += f"{drift.ledger_uses} in the ledger"
    if drift.counter_amount is not None:
        text += f"; {drift.counter_amount} given counted, {drift.ledger_amount} in the ledger"
    return text


class Command(BaseCommand):
    help = "Audit the promotion usage counters against the usage ledger (and fix with --fix)."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Set counters to the ledger sums.")
        parser.add_argument(
            "--promotion", type=int, action="append", dest="promotions", help="Only these ids."
        )

    def handle(self, *args, fix: bool, promotions: list[int] | None, **options):
        found = (
            usage_reconcile(promotion_ids=promotions)
            if fix
            else usage_drift(promotion_ids=promotions)
        )
        for drift in found:
            self.stdout.write(_describe(drift))
        if not found:
            self.stdout.write("The usage counters equal the ledger.")
        elif fix:
            self.stdout.write(f"Fixed {len(found)} counters.")
        else:
            self.stdout.write(f"{len(found)} counters differ from the ledger (run with --fix).")
            raise SystemExit(1)
