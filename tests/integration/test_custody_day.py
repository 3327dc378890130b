"""Custody over HTTP (issue 14, finding 1), with real device keys and staff sessions:
a realistic day of one Jakarta -> Surabaya parcel, the refusals the issue reported, and
couriers racing each other for the same parcels.

Scan times are set by the devices, within the minutes around the booking the server
accepts; "late" means sent after scans timed later than it."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.accounts.staff import assign_hub, create_staff, issue_one_time_password
from commands.container import Container
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.accounts import Role
from domain.errors import DomainError
from infra.messaging.relay import Relay
from infra.postgres import credentials
from infra.postgres.device_keys import create_key
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings
from tests.authenticator import enrol
from tests.integration.test_api import booking_body
from tests.support import Threads, database_snapshot, run_at_once, run_jalur, wait_until

PASSWORD = "kurir jalur pagi hari"
Item = tuple[str, str, str, datetime, UUID]  # who, AWB, code, scan time, scan id


@dataclass
class Day:
    client: TestClient
    container: Container
    keys: dict[str, dict[str, str]]  # name -> headers of a device key or a staff session
    accounts: dict[str, UUID]

    def scan(
        self,
        who: str,
        awb: str,
        code: str,
        at: datetime,
        location: str,
        scan_id: UUID | None = None,
        **extra: Any,
    ) -> Any:
        body = {
            "scan_id": str(scan_id or uuid4()),
            "code": code,
            "scanned_at": at.isoformat(),
            "location": location,
            **extra,
        }
        return self.client.post(f"/v1/shipments/{awb}/scans", json=body, headers=self.keys[who])

    def book(self) -> tuple[str, datetime]:
        answer = self.client.post("/v1/shipments", json=booking_body(), headers=self.keys["cgk"])
        assert answer.status_code == 201, answer.text
        return answer.json()["awb"], datetime.now(UTC)

    def stored_events(self) -> int:
        return self.container.shipments.recorder.max_notification_id() or 0


@pytest.fixture
def day(settings: Settings) -> Iterator[Day]:
    settings = settings.model_copy(update={"auth_min_response_s": 0.0})
    container = bootstrap(settings)
    now = datetime.now(UTC)
    staff = {
        "courier_a": (Role.COURIER, "SUB60000"),
        "courier_b": (Role.COURIER, "SUB60000"),
        "courier_cgk": (Role.COURIER, "CGK10000"),
        "operator_sub": (Role.HUB_OPERATOR, "SUB60000"),
    }
    accounts = {
        name: create_staff(container.identity, role, name.replace("_", "-"), PASSWORD, now, hub=hub)
        for name, (role, hub) in staff.items()
    }
    accounts["auditor"] = create_staff(container.identity, Role.AUDITOR, "auditor", PASSWORD, now)
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        secrets = {
            "cgk": create_key(conn, "CGK10000", "Jakarta hub")[1],
            "srg": create_key(conn, "SRG50000", "Semarang hub")[1],
            "sub": create_key(conn, "SUB60000", "Surabaya hub")[1],
            "courier_a": create_key(conn, "SUB60000", "A's phone", accounts["courier_a"])[1],
            "courier_cgk": create_key(conn, "CGK10000", "phone", accounts["courier_cgk"])[1],
        }
    stop = threading.Event()
    workers = Threads()
    workers.start(Relay(container.shipments, settings).run, stop)
    for name in ("tracking", "custody"):
        workers.start(ProjectionRunner(projection(name), settings).run, stop)
    try:
        with TestClient(create_app(container)) as client:
            keys = {name: {"X-API-Key": secret} for name, secret in secrets.items()}
            for name in ("courier_b", "operator_sub", "auditor"):
                keys[name] = _signed_in(client, name.replace("_", "-"))
            yield Day(client, container, keys, accounts)
    finally:
        stop.set()
        workers.join(timeout=30)
        container.close()


def _signed_in(client: TestClient, user_id: str) -> dict[str, str]:
    """A full staff session: signed in, then two-step sign-in enrolled (staff must)."""
    answer = client.post("/v1/sessions", json={"user_id": user_id, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    if answer.json()["mfa_enrolment_required"]:
        enrol(client, headers, PASSWORD)
    return headers


def test_a_day_late_upload_misroute_handover_and_offline_delivery(day: Day) -> None:
    awb, booked = day.book()

    def at(seconds: int) -> datetime:
        return booked + timedelta(seconds=seconds)

    accepted = [
        day.scan("cgk", awb, "RC1", at(10), "CGK10000"),
        day.scan("cgk", awb, "OP3", at(20), "CGK10000"),
        day.scan("srg", awb, "IP1", at(30), "SRG50000"),  # misrouted through Semarang
        day.scan("srg", awb, "OP3", at(40), "SRG50000"),
        day.scan("operator_sub", awb, "IP1", at(50), "SUB60000"),  # a hub operator, signed in
        day.scan("courier_a", awb, "IP3", at(60), "SUB60111"),
        day.scan("courier_b", awb, "IP3", at(80), "SUB60115"),  # shift handover
    ]
    events = day.stored_events()
    refused = day.scan(
        "courier_a", awb, "D01", at(90), "SUB60111", recipient_name="Siti Aminah"
    )  # A no longer holds it
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "not_in_custody")
    assert day.stored_events() == events
    accepted += [
        # A's phone was offline: its failed attempt, from when A held the parcel, syncs now.
        day.scan("courier_a", awb, "U04", at(70), "SUB60111"),
        day.scan(
            "courier_b",
            awb,
            "D01",
            at(100),
            "SUB60115",
            recipient_name="Siti Aminah",
            recipient_relationship="family",
        ),
        day.scan("cgk", awb, "OP1", at(15), "CGK10000"),  # the Jakarta hub uploads late
    ]
    assert [a.status_code for a in accepted] == [201] * 10, [a.text for a in accepted]
    token = accepted[-1].json()["consistency_token"]

    tracked = day.client.get(f"/v1/track/{awb}", params={"consistency_token": token}).json()
    assert [s["code"] for s in tracked["history"]] == [
        "RC1", "OP1", "OP3", "IP1", "OP3", "IP1", "IP3", "U04", "IP3", "D01",
    ]  # fmt: skip
    assert tracked["status"] == "delivered"
    exceptions = day.client.get(
        "/v1/exceptions",
        params={"consistency_token": token},
        headers=day.keys["operator_sub"],
    )
    assert exceptions.status_code == 200, exceptions.text
    mine = [e for e in exceptions.json()["exceptions"] if e["awb"] == awb]
    assert [(e["anomaly"], e["code"], e["location"]) for e in mine] == [
        ("misroute", "IP1", "SRG50000")
    ]


@pytest.mark.parametrize(
    ("role", "hub", "code"),
    [
        (Role.COURIER, None, "hub_required"),
        (Role.HUB_OPERATOR, None, "hub_required"),
        (Role.AUDITOR, "CGK10000", "no_hub_role"),
        (Role.COURIER, "CGK1000", "invalid_hub"),
        (Role.COURIER, "XYZ10000", "invalid_hub"),
    ],
)
def test_staff_who_scan_need_a_hub_of_a_known_city_and_others_have_none(
    day: Day, role: Role, hub: str | None, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        create_staff(
            day.container.identity, role, "new-staff", PASSWORD, datetime.now(UTC), hub=hub
        )

    assert refused.value.code == code
    with day.container.pool.connection() as conn:
        assert credentials.by_user_key(conn, day.container.identity.user_key("new-staff")) is None


def test_staff_made_before_hubs_scan_once_an_operator_gives_them_their_hub(
    day: Day, settings: Settings
) -> None:
    with day.container.pool.connection() as conn:
        conn.execute(
            "UPDATE credentials SET hub_code = NULL WHERE account_id = %s",
            (day.accounts["operator_sub"],),
        )
    awb, booked = day.book()
    at = booked + timedelta(seconds=5)

    before = day.scan("operator_sub", awb, "IP1", at, "SUB60000")
    assigned = run_jalur(
        settings, "users", "assign-hub", "--user-id", "operator-sub", "--hub", "SUB60000"
    )
    after = day.scan("operator_sub", awb, "IP1", at, "SUB60000")

    assert (before.status_code, before.json()["error"]["code"]) == (422, "scanner_without_hub")
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert after.status_code == 201, after.text
    refused = run_jalur(
        settings, "users", "assign-hub", "--user-id", "auditor", "--hub", "SUB60000"
    )
    assert (refused.returncode, "refused" in refused.stdout) == (1, True)


def test_a_key_is_bound_only_to_a_courier_of_its_own_hub(day: Day) -> None:
    with day.container.pool.connection() as conn:
        for hub, account in [
            ("CGK10000", day.accounts["courier_a"]),  # A works for Surabaya
            ("SUB60000", day.accounts["operator_sub"]),  # not a courier
            ("SUB60000", uuid4()),  # nobody
        ]:
            with pytest.raises(ValueError, match="no courier"):
                create_key(conn, hub, "phone", account)


def test_exceptions_are_for_hub_operators_admins_and_auditors_only(day: Day) -> None:
    assert day.client.get("/v1/exceptions", headers=day.keys["auditor"]).status_code == 200
    for who in ("courier_b", "cgk"):
        answer = day.client.get("/v1/exceptions", headers=day.keys[who])
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden")
    assert day.client.get("/v1/exceptions").status_code == 401


def test_exceptions_page_newest_first_with_a_cursor(day: Day) -> None:
    awb, booked = day.book()
    for n, hub in enumerate(["srg", "srg", "srg"]):
        answer = day.scan(hub, awb, "IP1", booked + timedelta(seconds=n + 1), "SRG50000")
        assert answer.status_code == 201, answer.text
    token = answer.json()["consistency_token"]
    first = day.client.get(
        "/v1/exceptions",
        params={"limit": 3, "consistency_token": token},
        headers=day.keys["auditor"],
    ).json()
    second = day.client.get(
        "/v1/exceptions",
        params={"limit": 3, "after": first["next_after"]},
        headers=day.keys["auditor"],
    ).json()

    # Three misroutes, and the first arrival is also a jump from where it was booked.
    seen = [(e["scan_id"], e["anomaly"]) for e in first["exceptions"] + second["exceptions"]]
    assert len(seen) == len(set(seen)) == 4
    assert sorted(anomaly for _, anomaly in seen).count("misroute") == 3
    assert second["next_after"] is None
    bad = day.client.get("/v1/exceptions", params={"after": "x"}, headers=day.keys["auditor"])
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_cursor")


REFUSALS: list[tuple[str, str, str, dict[str, Any], str]] = [
    # (who, code, location, extra, error code)
    ("cgk", "D01", "DJJ99999", {"recipient_name": "Orang Lain"}, "scan_outside_hub"),
    ("courier_a", "D01", "SUB60111", {"recipient_name": "Orang Lain"}, "not_in_custody"),
    ("sub", "D01", "SUB60000", {"recipient_name": "Orang Lain"}, "courier_required"),
    ("courier_a", "IP3", "CGK10110", {}, "scan_outside_hub"),
    ("operator_sub", "OP1", "SUB60111", {}, "scan_outside_hub"),
]


def test_the_issue_s_forged_deliveries_are_refused_and_change_nothing(day: Day) -> None:
    """Found from outside: a key made with --hub CGK10000 recorded D01 at DJJ99999 on a
    Jakarta -> Surabaya parcel booked minutes earlier with no other scan (201, and public
    tracking showed it delivered). Now each such scan is refused, alone or in a batch."""
    awb, booked = day.book()
    taken = day.scan("courier_cgk", awb, "IP3", booked + timedelta(seconds=5), "CGK10110")
    assert taken.status_code == 201, taken.text
    before = _settled(day, awb, taken.json()["consistency_token"])
    tracked = day.client.get(f"/v1/track/{awb}").json()

    at = booked + timedelta(seconds=30)
    for who, code, location, extra, error in REFUSALS:
        answer = day.scan(who, awb, code, at, location, **extra)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, error), who
    outside = day.scan(
        "courier_cgk", awb, "D01", at, "CGK10110", recipient_name="Orang Lain"
    )  # the holder, but in Jakarta
    assert outside.json()["error"]["code"] == "delivery_outside_destination"
    items = [
        {"awb": awb, "scan_id": str(uuid4()), "code": "D01", "scanned_at": at.isoformat(),
         "location": "DJJ99999", "recipient_name": "Orang Lain"},
        {"awb": awb, "scan_id": str(uuid4()), "code": "OP1", "scanned_at": at.isoformat(),
         "location": "CGK10000"},
    ]  # fmt: skip
    batch = day.client.post("/v1/scans", json={"scans": items}, headers=day.keys["cgk"])
    assert batch.status_code == 422, batch.text
    assert [(d["index"], d["code"]) for d in batch.json()["error"]["details"]] == [
        (0, "scan_outside_hub")
    ]

    assert _everything(day) == before
    assert day.client.get(f"/v1/track/{awb}").json() == tracked
    assert tracked["status"] != "delivered"


def test_couriers_racing_for_the_same_parcels_leave_one_holder_and_only_its_outcome(
    day: Day,
) -> None:
    """Two couriers of the hub, through their bound key and their session, each take every
    parcel at their own times and try to deliver it, all at once. By the client's own
    ledger of accepted scans, each parcel ends delivered once, by the courier whose
    "with courier" scan was the latest one accepted before the delivery's time."""
    parcels = [day.book() for _ in range(4)]
    chance = [(3, 7, 9, 8), (7, 3, 8, 9), (5, 6, 10, 10), (6, 5, 7, 11)]
    scans: list[Item] = []
    for (awb, booked), times in zip(parcels, chance, strict=True):
        a_take, b_take, a_deliver, b_deliver = (booked + timedelta(seconds=s) for s in times)
        scans += [
            ("courier_a", awb, "IP3", a_take, uuid4()),
            ("courier_b", awb, "IP3", b_take, uuid4()),
            ("courier_a", awb, "D01", a_deliver, uuid4()),
            ("courier_b", awb, "D01", b_deliver, uuid4()),
        ]

    def send(item: Item) -> int:
        who, awb, code, at, scan_id = item
        extra = {"recipient_name": "Siti Aminah"} if code == "D01" else {}
        answer = day.scan(who, awb, code, at, "SUB60111", scan_id, **extra)
        assert answer.status_code in {200, 201, 409, 422}, answer.text
        return int(answer.status_code)

    raced = run_at_once(send, scans * 3)  # each sent three times at once: retries racing
    retried = [send(item) for item in scans]  # then every device retries once more

    recorded = {
        item[4] for item, status in zip(scans * 4, raced + retried, strict=True) if status < 300
    }
    for awb, _ in parcels:
        ledger = [(at, who, code) for who, a, code, at, i in scans if a == awb and i in recorded]
        deliveries = [(at, who) for at, who, code in ledger if code == "D01"]
        assert len(deliveries) == 1, ledger
        (delivered_at, deliverer), takes = (
            deliveries[0],
            sorted(
                (at, who) for at, who, code in ledger if code == "IP3" and at <= deliveries[0][0]
            ),
        )
        assert takes, ledger
        assert takes[-1][1] == deliverer, ledger
        shipment = day.container.shipments.shipment(awb)
        holder = shipment.holder(delivered_at)
        assert holder == f"account:{day.accounts[deliverer]}"


def _everything(day: Day) -> dict[str, list[tuple[Any, ...]]]:
    with day.container.pool.connection() as conn:
        return database_snapshot(conn)


def _settled(day: Day, awb: str, token: str) -> dict[str, list[tuple[Any, ...]]]:
    caught_up = day.client.get(f"/v1/track/{awb}", params={"consistency_token": token})
    assert caught_up.status_code == 200, caught_up.text
    taken = [_everything(day)]

    def still() -> bool:
        taken.append(_everything(day))
        return taken[-1] == taken[-2]

    assert wait_until(still, timeout=20, interval=0.3), "the database never settled"
    return taken[-1]


def test_a_couriers_phone_stops_when_they_move_hub_or_get_a_new_password(day: Day) -> None:
    booked = datetime.now(UTC)
    phone = day.keys["courier_cgk"]

    def answers() -> int:
        return day.client.post("/v1/shipments", json=booking_body(), headers=phone).status_code

    assert answers() == 201
    assign_hub(day.container.identity, day.accounts["courier_cgk"], "SUB60000", booked)
    assert wait_until(lambda: answers() == 401, 10), "a key of the old hub still worked"

    assign_hub(day.container.identity, day.accounts["courier_cgk"], "CGK10000", booked)
    assert wait_until(lambda: answers() == 201, 10), "back at its hub, the phone works again"
    issue_one_time_password(day.container.identity, "courier-cgk", booked)
    assert wait_until(lambda: answers() == 401, 10), "a reset ends the courier's phones"
