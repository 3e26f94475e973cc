"""Forms of the storefront account page (`orders.account_views`): each parses one action's
input. The page's buttons carry them as hidden fields; a person types nothing here."""

from django import forms
from django.core.validators import RegexValidator

from orders.api.serializers import IDEMPOTENCY_KEY_PATTERN


class RedeemForm(forms.Form):
    """Redeem one catalogue item. The key is made once per page view and is the redemption's
    idempotency key, so a double click or a resubmitted form makes one request."""

    item = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    idempotency_key = forms.CharField(
        max_length=128, validators=[RegexValidator(IDEMPOTENCY_KEY_PATTERN)]
    )
