"""The default pipeline (new → confirmed → packed → shipped → delivered, cancel and return
branches) and the order number counter. The pipeline is data: managers change it in the UI."""

from django.db import migrations

# code, label, position, category, is_final
STATUSES = [
    ("new", "New", 10, "new", False),
    ("confirmed", "Confirmed", 20, "confirmed", False),
    ("packed", "Packed", 30, "processing", False),
    ("shipped", "Shipped", 40, "shipped", False),
    ("delivered", "Delivered", 50, "delivered", True),
    ("cancelled", "Cancelled", 60, "cancelled", True),
    ("returned", "Returned", 70, "returned", True),
]
TRANSITIONS = [
    ("new", "confirmed"),
    ("confirmed", "packed"),
    ("packed", "shipped"),
    ("shipped", "delivered"),
    ("new", "cancelled"),
    ("confirmed", "cancelled"),
    ("packed", "cancelled"),
    ("shipped", "returned"),
    ("delivered", "returned"),
]


def create_defaults(apps, schema_editor):
    OrderStatus = apps.get_model("orders", "OrderStatus")
    OrderTransition = apps.get_model("orders", "OrderTransition")
    OrderCounter = apps.get_model("orders", "OrderCounter")
    for code, label, position, category, is_final in STATUSES:
        OrderStatus.objects.get_or_create(
            code=code,
            defaults={"label": label, "position": position, "category": category,
                      "is_final": is_final},
        )
    for from_code, to_code in TRANSITIONS:
        OrderTransition.objects.get_or_create(from_status_id=from_code, to_status_id=to_code)
    OrderCounter.objects.get_or_create(name="order", defaults={"value": 1000})


def remove_defaults(apps, schema_editor):
    OrderTransition = apps.get_model("orders", "OrderTransition")
    OrderTransition.objects.filter(
        from_status_id__in=[f for f, _ in TRANSITIONS], to_status_id__in=[t for _, t in TRANSITIONS]
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_defaults, remove_defaults),
    ]
