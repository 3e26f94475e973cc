from django.apps import AppConfig


class BrandsConfig(AppConfig):
    name = "brands"
    verbose_name = "Brands and stores"
