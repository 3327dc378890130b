"""Hub devices that book and scan over HTTPS as real ones do: every write carries its
idempotency key or scan id, and one that gets no 2xx answer (a dropped connection, a
timeout, a 5xx) is sent again, unchanged, until it does. Each device keeps a ledger of
what it was told: the oracle a crash test judges the system by."""

import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx

from tests.support import TRANSIT_CODES

HUB = "CGK10000"
RETRY_FOR_S = 90.0  # one write unanswered for longer than this fails the test
RETRY_PAUSE_S = 0.2


@dataclass
class Ledger:
    """The writes a device saw acknowledged (2xx), and what it took."""

    bookings: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> AWB
    scans: dict[UUID, str] = field(default_factory=dict)  # scan id -> AWB
    tokens: dict[str, str] = field(default_factory=dict)  # AWB -> last consistency token
    requests: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what made a device retry
    acknowledged_on_retry: int = 0  # the writes a kill interrupted
    already_recorded: int = 0  # scans whose first attempt had been stored, unanswered

    def scan_counts(self) -> Counter[str]:
        counts = Counter(self.scans.values())
        counts.update(dict.fromkeys(self.bookings.values(), 0))
        return counts


class Unacknowledged(Exception):
    """A write refused with a 4xx, or never answered within RETRY_FOR_S."""


class Device:
    def __init__(self, url: str, cert: str, secret: str, name: str, seed: str) -> None:
        self.client = httpx.Client(
            base_url=url,
            verify=ssl.create_default_context(cafile=cert),
            headers={"X-API-Key": secret},
            timeout=30,
        )
        self.name = name
        self.chance = random.Random(f"{seed}:{name}")
        self.ledger = Ledger()

    def run(self, stop: threading.Event) -> Ledger:
        """Book and scan until `stop`; the write under way then still ends acknowledged."""
        with self.client:
            while not stop.is_set():
                self.act()
        return self.ledger

    def act(self) -> None:
        roll = self.chance.random()
        if not self.ledger.bookings or roll < 0.1:
            self.book()
        elif roll < 0.85:
            self.scan()
        else:
            self.scan_batch(self.chance.randint(2, 20))

    def book(self) -> None:
        key = f"{self.name}-order-{uuid4()}"
        body = booking_body(len(self.ledger.bookings), email=self.chance.random() < 0.5)
        answer = self.send("/v1/shipments", body, {"Idempotency-Key": key})
        self.ledger.bookings[key] = answer["awb"]
        self.ledger.tokens[answer["awb"]] = answer["consistency_token"]

    def scan(self) -> None:
        awb = self._pick_awb()
        body = scan_body(self.chance.choice(TRANSIT_CODES))
        answer = self.send(f"/v1/shipments/{awb}/scans", body)
        if (answer["awb"], answer["scan_id"]) != (awb, body["scan_id"]):
            raise Unacknowledged(f"scan {body['scan_id']} of {awb} answered {answer}")
        self.ledger.already_recorded += not answer["recorded"]
        self.ledger.scans[UUID(body["scan_id"])] = awb
        self.ledger.tokens[awb] = answer["consistency_token"]

    def scan_batch(self, size: int) -> None:
        items = [
            {**scan_body(self.chance.choice(TRANSIT_CODES)), "awb": self._pick_awb()}
            for _ in range(size)
        ]
        answer = self.send("/v1/scans", {"scans": items})
        answered = [(s["awb"], s["scan_id"]) for s in answer["scans"]]
        if answered != [(item["awb"], item["scan_id"]) for item in items]:
            raise Unacknowledged(f"batch of {size} answered {answer}")
        self.ledger.already_recorded += sum(not s["recorded"] for s in answer["scans"])
        for item in items:
            self.ledger.scans[UUID(item["scan_id"])] = item["awb"]
            self.ledger.tokens[item["awb"]] = answer["consistency_token"]

    def _pick_awb(self) -> str:
        return self.chance.choice(sorted(set(self.ledger.bookings.values())))

    def send(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """POST until a 2xx answer; the same body and headers each time."""
        deadline = time.monotonic() + RETRY_FOR_S
        retried = False
        while True:
            self.ledger.requests += 1
            try:
                response = self.client.post(path, json=body, headers=headers)
            except httpx.TransportError as error:
                failure = type(error).__name__
            else:
                if response.is_success:
                    self.ledger.acknowledged_on_retry += retried
                    return response.json()
                if response.status_code < 500:
                    raise Unacknowledged(f"POST {path}: {response.status_code} {response.text}")
                failure = f"HTTP {response.status_code}"
            if time.monotonic() > deadline:
                raise Unacknowledged(f"POST {path} unanswered for {RETRY_FOR_S}s: {failure}")
            self.ledger.failures[failure] += 1
            retried = True
            time.sleep(RETRY_PAUSE_S)


def booking_body(n: int, *, email: bool) -> dict[str, Any]:
    receiver: dict[str, Any] = {
        "name": f"Siti Aminah {n}",
        "phone": "081298765432",
        "address": f"Jl. Pemuda {n}",
        "area": "SUB60111",
    }
    if email:  # a party waiting for its customer: the booking writes outside the event store too
        receiver["email"] = f"siti.{uuid4().hex[:10]}@example.id"
    return {
        "service": "REG",
        "shipper": {
            "name": f"Budi Santoso {n}",
            "phone": "081234567890",
            "address": f"Jl. Merdeka {n}",
            "area": "CGK10110",
        },
        "receiver": receiver,
        "parcel": {
            "weight_grams": 1200,
            "length_cm": 20,
            "width_cm": 15,
            "height_cm": 10,
            "declared_value": 150_000,
        },
    }


def scan_body(code: str) -> dict[str, Any]:
    """A hub scan at the device's own hub, timed now: any open shipment accepts it."""
    return {
        "scan_id": str(uuid4()),
        "code": code,
        "scanned_at": datetime.now(UTC).isoformat(),
        "location": HUB,
    }
