"""Merging duplicate customers moves their SOP runs, tasks and messages to the survivor."""

from __future__ import annotations

import pytest

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import customer, person, sop_live, task_step
from procedo.customers.services.merging import customer_merge
from procedo.messaging.models import Message
from procedo.messaging.services.queueing import message_queue
from procedo.work.models import Task
from procedo.work.services.lifecycle import task_create

pytestmark = pytest.mark.django_db


def test_a_merge_moves_runs_tasks_and_messages_but_never_makes_a_run_twice() -> None:
    operator = person(Role.OPERATOR)
    sop, _rev = sop_live(
        definition={"triggers": [{"kind": "manual", "key": "hand"}], "steps": [task_step()]},
        subject_type="customer",
        name="Call back",
    )
    survivor, duplicate = customer(), customer()
    started = {
        (who.pk, key): run_start_manual(
            sop_id=sop.pk,
            subject_type="customer",
            subject_id=who.pk,
            actor=operator,
            idempotency_key=key,
        )
        for who, key in ((survivor, "same"), (duplicate, "same-too"), (duplicate, "other"))
    }
    # Both got the same occurrence (one schedule slot): the merge must not make it twice.
    Run.objects.filter(pk=started[duplicate.pk, "same-too"].pk).update(
        occurrence_key=started[survivor.pk, "same"].occurrence_key
    )
    task_create(
        title="Call",
        customer_id=duplicate.pk,
        subject_type="customer",
        subject_id=duplicate.pk,
        assignee_role="operator",
    )
    message_queue(
        channel="email",
        recipient="a@example.com",
        body="Hi",
        customer_id=duplicate.pk,
        idempotency_key="m1",
    )

    customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=operator)

    keys = set(Run.objects.filter(subject_id=survivor.pk).values_list("occurrence_key", flat=True))
    assert keys == {
        started[survivor.pk, "same"].occurrence_key,
        started[duplicate.pk, "other"].occurrence_key,
    }
    assert Run.objects.filter(subject_id=duplicate.pk).count() == 1  # its twin stays
    assert Task.objects.get().subject_id == survivor.pk
    assert Message.objects.get().customer_id == survivor.pk
