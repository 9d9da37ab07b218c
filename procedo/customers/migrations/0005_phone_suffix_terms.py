from django.db import migrations

# A phone is found by its last digits through a term holding its tail reversed behind "~"
# (normalise.phone_suffix_term): "ends with 2245" is then the prefix range "~5422", which
# the (term, customer) index seeks. New and changed customers get the term from
# services._reindex; this gives it to those already stored, in one INSERT … SELECT.
# SQLite has no reverse(), so the tail (at most 9 digits, normalise.PHONE_TAIL_DIGITS) is
# reversed by picking its characters from the last to the first; substr past the end is ''.
# Merged customers keep no terms.
REVERSED_TAIL = " || ".join(f"substr(i.phone_tail, {n}, 1)" for n in range(9, 0, -1))

FORWARD = f"""
INSERT INTO customers_customersearchterm (customer_id, term)
SELECT DISTINCT i.customer_id, '~' || {REVERSED_TAIL}
FROM customers_identity i
JOIN customers_customer c ON c.id = i.customer_id
WHERE i.kind = 'phone' AND i.phone_tail <> '' AND c.merged_into_id IS NULL
ON CONFLICT (term, customer_id) DO NOTHING
"""

BACKWARD = "DELETE FROM customers_customersearchterm WHERE substr(term, 1, 1) = '~'"


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_customertag_drop_redundant_indexes"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD, elidable=False),
    ]
