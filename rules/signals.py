"""Cached rule lists are rebuilt after any change to rules, their parts, or the names they
resolve (customer labels, categories), once the change commits."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from catalog.models import Category
from labels.models import Label
from rules.models import Rule, RuleAction, RuleCondition, RuleTrigger
from rules.selectors import rules_cache_invalidate


def invalidate_rules_cache(sender, raw=False, **kwargs) -> None:
    if not raw:
        transaction.on_commit(rules_cache_invalidate)


for model in (Rule, RuleTrigger, RuleCondition, RuleAction, Label, Category):
    for signal in (post_save, post_delete):
        signal.connect(
            invalidate_rules_cache, sender=model, dispatch_uid=f"rules.invalidate.{model.__name__}"
        )
