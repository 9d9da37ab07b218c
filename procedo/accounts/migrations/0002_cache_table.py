"""The database cache's table (settings.CACHES), made by `migrate` like every other table.

Django leaves it to a separate `createcachetable`; here every path that migrates
(`procedo run`, a deployment, the tests) gets it. The command skips a table that exists.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
