from django.db import migrations


class Migration(migrations.Migration):
    """Business moved to `procedo.business`; its table stays (state only)."""

    dependencies = [
        ("core", "0002_business_marketing_limits"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Business")],
            database_operations=[],
        ),
    ]
