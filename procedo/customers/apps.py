from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "procedo.customers"
    label = "customers"
    verbose_name = "Customers"
