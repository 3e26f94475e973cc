"""Rule tasks: thin wrappers over rules.services.events, with the project's retry policy."""

from config.celery_app import app
from marketing.tasks import RETRY_OPTIONS
from rules.services.events import rules_daily_sweep, rules_event_evaluate
from rules.services.retention import rule_firings_purge


@app.task(name="rules.evaluate_event", **RETRY_OPTIONS)
def rules_evaluate_event_task(
    *,
    event: str,
    event_id: str,
    brand_id: int | None,
    customer_id: int | None = None,
    order_id: int | None = None,
    depth: int = 0,
) -> int:
    firings = rules_event_evaluate(
        event=event,
        event_id=event_id,
        brand_id=brand_id,
        customer_id=customer_id,
        order_id=order_id,
        depth=depth,
    )
    return len(firings)


@app.task(name="rules.daily_sweep", **RETRY_OPTIONS)
def rules_daily_sweep_task() -> int:
    return rules_daily_sweep()


@app.task(name="rules.sweep_firings", ignore_result=True, acks_late=True)
def rules_sweep_firings_task() -> int:
    """Delete rule firings past their retention period."""
    return rule_firings_purge()
