from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _sync_roles_after_migrate(sender, apps=None, **kwargs) -> None:
    """Keep the role groups complete after every migrate and every test database flush.

    Django sends post_migrate once per app, after creating that app's permissions; the roles
    are synced once, after the last app, when every permission exists.
    """
    from brands.roles import sync_roles

    # Django signals only apps with models; the last of them comes after every permission.
    last = [config for config in global_apps.get_app_configs() if config.models_module][-1]
    if sender.label == last.label:
        # `migrate` passes the migration state's apps; `flush` passes none.
        sync_roles(apps or global_apps, ensure_permissions=False)


class BrandsConfig(AppConfig):
    name = "brands"
    verbose_name = "Brands and stores"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles_after_migrate)
