"""N simulated POS devices against a running server (see README, "POS uploads").

Each simulated device holds one device key and does what a till does: polls `version` with
`If-None-Match` (mostly a 304), pulls the delta since the version it holds when the hash moved,
and now and then uploads a batch of tickets it priced offline with the Python calculator (the
same results engine.js gives), so the server re-verifies and accepts them.

    DEVICE_KEYS_FILE=keys.txt locust -f loadtest/locustfile.py --headless \
        -u 50 -r 10 -t 60s --host http://127.0.0.1:8000

`DEVICE_KEYS_FILE` holds one key per line (`manage.py create_pos_devices <brand>/<store>
--count 50`); `DEVICE_KEYS` (comma-separated) works too. Simulated devices take the keys in turn.
`STORE_TIME_ZONE` (Europe/Paris) is the store's time zone, `TICKETS_PER_UPLOAD` (10) the batch.
"""

import itertools
import os
import random
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from promotions.services.calculator import ENGINE_VERSION, calculate
from promotions.services.engine_input import engine_context

SYNC = "/api/v1/sync/"
TICKETS_PER_UPLOAD = int(os.environ.get("TICKETS_PER_UPLOAD", "10"))
# The store's time zone, for the local time the engine reads (the demo's stores: Europe/Paris).
STORE_TIME_ZONE = os.environ.get("STORE_TIME_ZONE", "Europe/Paris")


def _keys() -> list[str]:
    path = os.environ.get("DEVICE_KEYS_FILE")
    text = Path(path).read_text() if path else os.environ.get("DEVICE_KEYS", "")
    keys = [key.strip() for key in text.replace(",", "\n").splitlines() if key.strip()]
    if not keys:
        raise SystemExit("Set DEVICE_KEYS_FILE (one key per line) or DEVICE_KEYS.")
    return keys


KEYS = itertools.cycle(_keys())


@events.init_command_line_parser.add_listener
def _describe(parser) -> None:
    parser.description = __doc__


class PosDevice(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.client.headers["X-Device-Key"] = next(KEYS)
        self.random = random.Random()
        self.etag = None
        self._full_bundle()
        self.products = []
        page = 1
        while True:
            body = self.client.get(
                f"/api/v1/products/?page_size=200&page={page}", name="/api/v1/products/"
            ).json()
            self.products += [p for p in body["results"] if p["is_active"]]
            if not body["next"]:
                break
            page += 1

    def _full_bundle(self) -> None:
        bundle = self.client.get(f"{SYNC}active_promotions/").json()
        self.bundle = bundle
        self.promotions = {p["id"]: p for p in bundle["promotions"]}

    @task(10)
    def poll_version(self) -> None:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        with self.client.get(
            f"{SYNC}version/", headers=headers, name="version", catch_response=True
        ) as response:
            if response.status_code == 304:
                response.success()
                return
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return
            self.etag = response.headers.get("ETag")
            if response.json().get("hash") != self.bundle.get("hash"):
                self.pull_delta()

    @task(2)
    def pull_delta(self) -> None:
        since = self.bundle.get("version")
        body = self.client.get(
            f"{SYNC}active_promotions/?since={since}", name="active_promotions?since"
        ).json()
        if body.get("full_required"):
            self._full_bundle()
            return
        for promotion_id in body.get("removed", []):
            self.promotions.pop(promotion_id, None)
        for promotion in [*body.get("added", []), *body.get("updated", [])]:
            self.promotions[promotion["id"]] = promotion
        self.bundle = {**self.bundle, **{k: body[k] for k in ("version", "hash") if k in body}}

    @task(1)
    def upload_usage(self) -> None:
        tickets = [self._ticket() for _ in range(TICKETS_PER_UPLOAD)]
        with self.client.post(
            f"{SYNC}upload_usage/", json={"tickets": tickets}, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return
            counts = response.json()["counts"]
            if counts["accepted"] + counts["unverifiable"] != len(tickets):
                response.failure(f"not all accepted: {counts}")

    def _ticket(self) -> dict:
        now = datetime.now(UTC).replace(microsecond=0)
        chosen = [
            (product, self.random.randint(1, 3))
            for product in self.random.sample(self.products, self.random.randint(1, 5))
        ]
        basket = {
            "lines": [
                {
                    "line_id": f"L{i}",
                    "product_id": product["id"],
                    "category_id": product["category"],
                    "label_ids": sorted(label["id"] for label in product["labels"]),
                    "quantity": quantity,
                    "unit_price": int(Decimal(product["price"]) * 100),
                }
                for i, (product, quantity) in enumerate(chosen)
            ]
        }
        context = engine_context(
            at=now,
            time_zone=STORE_TIME_ZONE,
            channel="pos",
            store_id=self.bundle.get("store"),
        )
        result = calculate(
            basket=basket,
            context=context,
            promotions=list(self.promotions.values()),
            bundle_hash=self.bundle["hash"],
        )
        return {
            "ticket_id": uuid.uuid4().hex,
            "local_time": now.isoformat(),
            "lines": [
                {
                    "line_id": f"L{i}",
                    "product": product["id"],
                    "quantity": quantity,
                    "unit_price": product["price"],
                }
                for i, (product, quantity) in enumerate(chosen)
            ],
            "result": result,
            "engine_version": ENGINE_VERSION,
            "bundle_hash": self.bundle["hash"],
        }
