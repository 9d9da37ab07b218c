"""Every write to orders: one transaction each, its events in the same transaction.

Idempotency: a service given `idempotency_key` is wrapped in `@idempotent`
(procedo/core/idempotency.py): a retry, a redelivery or a double click with the
same request returns what the first made and writes nothing; the same key with
another request is refused. The key, scoped to the caller, is also UNIQUE on the
work's event: the last guard when two twins race.

- lines: an order's lines and delivery as given, checked, priced and written
- taking: creating an order (its customer, lines, delivery, stock held)
- editing: its lines, delivery and discount while the pipeline allows it
- statuses: moving orders through the pipeline, one or many
- pipeline: the store's statuses and transitions
- payments: payments and refunds
- shipments: shipments and their carrier statuses
- returns: returns and restocking
- history: orders from the past in bulk (import, demo store)
- customer_figures: each customer's order figures; moving orders at a merge
- _common: what several of these share
"""
