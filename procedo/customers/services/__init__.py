"""Every write to customers: one transaction each, each recording its events.

Every event carries `customer_id`, so the customer's timeline shows it and a
merge carries it to the survivor. Bad input raises a DomainError naming the
field and writes nothing.

Creating versus finding: `customer_create` is strict (the person at the form
must learn that the email already belongs to Олена Коваленко, #17), while
`customer_find_or_create` is what an import or a shop webhook calls: it finds
by external ref, then email, then phone, fills blanks, and creates only when
nothing matches.

- customers: creating, finding or creating, and editing one customer
- bulk: customers by the thousand (an import), their search index, their order figures
- identities: emails and phones, and the consent given on each
- details: addresses, tags and notes
- merging: merging duplicates, or saying two are not duplicates
- _common: what several of these share
"""
