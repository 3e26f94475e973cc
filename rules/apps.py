from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = "Rules and automations"

    def ready(self) -> None:
        from rules import signals  # noqa: F401
