import datetime

import procedo.business.models
from django.db import migrations, models


class Migration(migrations.Migration):
    """The model that lived in `core` until now, on the same table (state only)."""

    initial = True

    dependencies = [
        ("core", "0003_business_moves_to_its_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Business",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(default="My store", max_length=200, verbose_name="name")),
                        ("time_zone", models.CharField(default="Europe/Kyiv", max_length=64, validators=[procedo.business.models.validate_time_zone], verbose_name="time zone")),
                        ("currency", models.CharField(default="UAH", max_length=3, verbose_name="currency")),
                        ("quiet_hours_start", models.TimeField(blank=True, default=datetime.time(21, 0), null=True, verbose_name="quiet hours from")),
                        ("quiet_hours_end", models.TimeField(blank=True, default=datetime.time(9, 0), null=True, verbose_name="quiet hours until")),
                        ("marketing_cap_count", models.PositiveSmallIntegerField(default=2, verbose_name="marketing messages per customer")),
                        ("marketing_cap_days", models.PositiveSmallIntegerField(default=1, verbose_name="in how many days")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "business",
                        "db_table": "core_business",
                        "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="business_is_singleton")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
