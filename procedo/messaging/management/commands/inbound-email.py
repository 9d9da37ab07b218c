"""`procedo inbound-email < message.eml`: one RFC 822 message from a mail server's pipe.

For Postfix (master.cf): `procedo unix - n n - - pipe flags=Rq user=procedo
argv=/path/to/procedo inbound-email`; for Exim, a `pipe` transport with the same
command. Exit status follows sysexits(3), which both servers understand: 0 stored
(or already stored: a redelivery is harmless), 65 (EX_DATAERR) the input is not
a message (the server bounces it, with our line as the reason), 75 (EX_TEMPFAIL)
the database could not take it now (the server keeps it and retries: nothing a
customer sent is lost).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from procedo.core.errors import DomainError
from procedo.messaging.services.inbound import MAX_RAW, inbound_email_receive

EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = (
        "Read one email (RFC 822) from standard input and attach it to the customer's timeline."
        f" Exit status: 0 stored, {EX_DATAERR} not a message, {EX_TEMPFAIL} try again later."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_RAW + 1)
        try:
            inbound = inbound_email_receive(raw=raw)
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}", returncode=EX_DATAERR) from None
        except DatabaseError as exc:
            raise CommandError(
                f"database: {exc}; the mail server should try again", returncode=EX_TEMPFAIL
            ) from None
        where = f"customer #{inbound.customer_id}" if inbound.customer_id else "no customer matched"
        reply = f", a reply to message #{inbound.in_reply_to_id}" if inbound.in_reply_to_id else ""
        self.stdout.write(f"inbound message #{inbound.pk} from {inbound.sender}: {where}{reply}")
