from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "procedo.orders"
    label = "orders"
    verbose_name = "Orders"
