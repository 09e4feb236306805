"""The outlet user's daily journey for bench/load.py: log in, search, open a customer, log a visit, list."""

from __future__ import annotations

import json
import os
import random
import re
from datetime import datetime, timedelta, timezone
from itertools import count

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

LOGINS = os.environ["BENCH_LOGINS"].split(",")
PASSWORD = os.environ["BENCH_PASSWORD"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"|&#34;X-CSRFToken&#34;: &#34;([^&]+)&#34;')
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)"')
SHANGHAI = timezone(timedelta(hours=8))
_next = count()


SAMPLES: list[tuple[str, float, int]] = []  # (step, milliseconds, 1 if it failed): every request, for exact percentiles


@events.request.add_listener
def _sample(request_type, name, response_time, response_length, exception=None, **kw) -> None:
    SAMPLES.append((name, response_time, 1 if exception else 0))


@events.quitting.add_listener
def _write_samples(environment, **kw) -> None:
    with open(os.environ["BENCH_SAMPLES"], "w", encoding="utf-8") as fh:
        json.dump(SAMPLES, fh)


WAIT = tuple(float(x) for x in os.environ.get("BENCH_WAIT", "2,8").split(","))


class OutletUser(FastHttpUser):
    """One member of an outlet team: reads the page, types, serves the customer at the counter, then clicks again
    (BENCH_WAIT seconds between steps, 2–8 by default)."""

    wait_time = between(*WAIT)

    def on_start(self) -> None:
        self.login = LOGINS[next(_next) % len(LOGINS)]
        self.rng = random.Random(self.login)
        self.customer_ids: list[str] = []
        page = self.client.get("/login", name="login page").text
        token = self._token(page)
        with self.client.post("/login", data={"login": self.login, "password": PASSWORD, "csrf_token": token},
                              name="login", allow_redirects=False, catch_response=True) as resp:
            if resp.status_code != 302:
                resp.failure(f"login {self.login}: {resp.status_code}")
        self.csrf = self._token(self.client.get("/customers", name="list").text)

    @staticmethod
    def _token(html: str) -> str:
        match = CSRF.search(html or "")
        return (match.group(1) or match.group(2)) if match else ""

    @task(3)
    def search(self) -> None:
        q = self.rng.choice(SURNAMES)
        with self.client.get(f"/customers?q={q}", name="search", catch_response=True) as resp:
            ids = CUSTOMER_LINK.findall(resp.text or "")
            if resp.status_code != 200:
                resp.failure(f"search {resp.status_code}")
            elif ids:
                self.customer_ids = ids

    @task(3)
    def open_customer(self) -> None:
        if not self.customer_ids:
            return self.search()
        cid = self.rng.choice(self.customer_ids)
        with self.client.get(f"/customers/{cid}", name="open customer", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"customer {cid}: {resp.status_code}")

    @task(1)
    def log_visit(self) -> None:
        if not self.customer_ids:
            return self.search()
        cid = self.rng.choice(self.customer_ids)
        now = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        with self.client.post(f"/activity/customers/{cid}", name="log visit", catch_response=True,
                              data={"kind": "visit", "summary": "上门走访，介绍三年期大额存单", "occurred_at": now,
                                    "csrf_token": self.csrf},
                              headers={"HX-Request": "true", "X-CSRFToken": self.csrf}) as resp:
            if resp.status_code != 200:
                resp.failure(f"visit {cid}: {resp.status_code} {(resp.text or '')[:200]}")

    @task(2)
    def customer_list(self) -> None:
        with self.client.get("/customers", name="list", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"list {resp.status_code}")

    @task(1)
    def bare(self) -> None:
        # The reference, requested by the same simulated users under the same load.
        self.client.get("/bare/", name="bare Flask page")
