import pytest

from notifications.tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def webhook_receiver():
    """Start receivers with `webhook_receiver(statuses=..., secret=...)`; all stop afterwards."""
    started: list[WebhookReceiver] = []

    def start(**kwargs) -> WebhookReceiver:
        receiver = WebhookReceiver(**kwargs).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()
