"""Schemathesis against a real `cloudrec` API (Ray cluster, embedded log): a bounded number of
cases per endpoint, then every session the fuzzer started is gone and no actor is left behind.

The bulk of the fuzzing runs in the unit suite over the in-memory backend
(``tests/unit/api/test_schemathesis.py``); this run checks what only the real system can show:
no 5xx from the service, and nothing left recording or running afterwards.
"""

from __future__ import annotations

import base64
import os
import time

import httpx
import pytest
import ray
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from cloudrec.api.openapi import ENDPOINTS
from cloudrec.cluster.options import NAMESPACE

from ..unit.api.fuzzing import Binder, check_answer

pytestmark = pytest.mark.integration
CASES_PER_ENDPOINT = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def session_actors() -> set[str]:
    """Named actors that belong to a session (channels are long-lived by design)."""
    return {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE and a["name"].startswith(("layout-", "uploader-"))}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.parametrize("runtime", ["embedded"], indirect=True)
def test_fuzzing_the_real_api_leaves_nothing_behind(runtime, server, customers):
    secret, appid = customers["alice"]
    before = session_actors()
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    credentials = "Basic " + base64.b64encode(f"alice:{secret}".encode()).decode()
    client = httpx.Client(base_url=server.url, headers={"Authorization": credentials},
                          timeout=60)
    binder = Binder(client, appid, channel=("fuzzroom", "4242"))
    answers: list[int] = []
    pids: set[int] = set()

    for endpoint in ENDPOINTS:
        operation = schema[f"/v1/apps/{{appid}}/cloud_recording{endpoint.path}"][
            endpoint.method.upper()]
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=CASES_PER_ENDPOINT, deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def run(case):
            binder.bind(case.path_parameters, case.body, repr(case.path_parameters))
            case.headers = {**(case.headers or {}), "Authorization": credentials}
            response = case.call_and_validate(base_url=server.url, checks=CHECKS)
            check_answer(response.status_code, response.json())
            answers.append(response.status_code)
            for sid in binder.started:
                pids.add(ray.get(runtime.controller.describe.remote(sid))["pid"])

        run()

    binder.stop_all()
    ours = set(binder.started)
    assert ours, "the fuzzer never reached a running session"
    assert wait_until(lambda: not ours & set(ray.get(runtime.controller.list_sessions.remote())))
    assert wait_until(lambda: session_actors() <= before), session_actors() - before
    assert wait_until(lambda: not {p for p in pids - {0} if alive(p)}), pids
    assert len(answers) >= CASES_PER_ENDPOINT * len(ENDPOINTS) // 2
