from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import outbox  # noqa: F401 - connects the worker's outbox signal receivers
