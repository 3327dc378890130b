"""The relay's public form made from stored state is the domain event's public form."""

import json
from dataclasses import replace

from commands.accounts.privacy import ensure_policy
from infra.messaging.public_form import PublicForm
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.support import T0, book_and_scan, booking


def test_every_stored_event_gets_the_same_bytes_the_quick_way(settings: Settings) -> None:
    apps = build_applications(settings)
    book_and_scan(apps.shipments, 3, rounds=2)
    apps.shipments.book(booking(9, cod=25_000), actor="key_test", now=T0)
    ensure_policy(apps.accounts, "Policy text, with ünïcode.", T0)
    for app in (apps.shipments, apps.accounts):
        form = PublicForm(app)
        notifications = app.recorder.select_notifications(start=1, limit=1000)
        assert notifications
        for notification in notifications:
            quick = form._from_state(notification)  # raises if it had to take the slow way
            assert quick.to_json() == form.slow(notification).to_json()
    apps.close()


def test_an_event_stored_before_an_upcast_goes_the_slow_way(settings: Settings) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    book_and_scan(shipments, 1)
    booked = shipments.recorder.select_notifications(start=1, limit=1)[0]
    state = json.loads(booked.state)
    assert state.pop("class_version") == 2
    del state["shipper_account"], state["receiver_account"]  # as stored before issue 4
    old = replace(booked, state=json.dumps(state).encode())
    form = PublicForm(shipments)

    public = form.of(old)

    assert public.data["shipper_account"] is None
    assert public.to_json() == form.slow(old).to_json()
    apps.close()
