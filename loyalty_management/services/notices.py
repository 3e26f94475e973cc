"""Customer notices about points: one a week before points expire."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from loyalty_management.models import LoyaltyAccount
from loyalty_management.services.ledger import expiring_lots_claim_for_notice
from notifications.services import NotificationService

logger = logging.getLogger(__name__)

EXPIRY_NOTICE_AHEAD = timedelta(days=7)
EXPIRING_EVENT = "loyalty.points.expiring"


def expiring_points_notify(
    *, now: datetime | None = None, ahead: timedelta = EXPIRY_NOTICE_AHEAD
) -> int:
    """Tell each customer whose points expire within `ahead` how many and when, once per lot
    (the lots are claimed before the notice, so a second run sends nothing). Returns the
    number of notices sent."""
    now = now or timezone.now()
    sent = 0
    while lots := expiring_lots_claim_for_notice(now=now, ahead=ahead):
        by_account: dict[int, list] = defaultdict(list)
        for lot in lots:
            by_account[lot.account_id].append(lot)
        accounts = LoyaltyAccount.objects.select_related("customer", "program__brand").in_bulk(
            list(by_account)
        )
        for account_id, account_lots in by_account.items():
            account = accounts[account_id]
            with transaction.atomic():
                NotificationService.send_notification(
                    event=EXPIRING_EVENT,
                    payload={
                        "points": sum(lot.remaining_points for lot in account_lots),
                        "expires_at": min(lot.expires_at for lot in account_lots),
                        "account_id": account_id,
                    },
                    customer=account.customer,
                    brand=account.program.brand,
                )
            sent += 1
    return sent
