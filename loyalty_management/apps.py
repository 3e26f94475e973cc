from django.apps import AppConfig


class LoyaltyManagementConfig(AppConfig):
    name = "loyalty_management"
    verbose_name = "Loyalty"
