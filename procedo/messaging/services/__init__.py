"""Every write of messaging: to the outbound ledger, to templates, and what comes in.

- queueing: writing to the outbound ledger (one message or thousands); a key already
  in the ledger returns its message, never two; a person's decision on an `unknown` one
- composing: a message's subject and body from a template or a step's own text
- templates: saving and previewing stored templates
- sending: the email and SMS sender claiming due rows and handing them over, in batches
- inbound: messages customers send us (email replies, SMS), stored raw, then matched
- delivery_status: an SMS provider's delivery callback, written to the message's row
- unsubscribe: the signed unsubscribe link and its answer, and the gate that holds or
  suppresses marketing at send time (consent, quiet hours, frequency caps)
- _common: the unsubscribe line queueing and composing both add

The transports the sender hands messages to are in procedo/messaging/transports.py
(SMTP, console, outbox) and procedo/messaging/sms.py.
"""
