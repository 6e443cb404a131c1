"""The request a receiver gets: §15.3 envelope, §15.2 signatures over the exact bytes sent."""

from __future__ import annotations

import json

from cloudrec.projections import callbacks
from cloudrec.webhooks import envelope

SPEC_BODY = (b'{"eventMs":1560408533119,"eventType":10,'
             b'"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,'
             b'"payload":{"a":"1","b":2},"productId":1}')


def test_headers_match_the_spec_test_vector() -> None:
    assert envelope.headers(SPEC_BODY, "secret") == {
        "Content-Type": "application/json",
        "Agora-Signature": "033c62f40f687675f17f0f41f91a40c71c0f134c",
        "Agora-Signature-V2": "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99",
    }


def test_a_receiver_verifies_both_headers_whatever_their_case() -> None:
    sent = envelope.headers(SPEC_BODY, "secret")
    lowered = {name.lower(): value for name, value in sent.items()}

    assert envelope.verify(SPEC_BODY, sent, "secret")
    assert envelope.verify(SPEC_BODY, lowered, "secret")
    assert not envelope.verify(SPEC_BODY, sent, "other")
    assert not envelope.verify(SPEC_BODY.replace(b"10", b"11"), sent, "secret")
    assert not envelope.verify(SPEC_BODY, {"Agora-Signature": lowered["agora-signature"]},
                               "secret")  # V2 missing


def notice() -> dict:
    from ..projections.session import SessionEvents

    s = SessionEvents()
    return callbacks.notifications([s.started(), s.launched()], s.sid)[0]


def test_the_body_is_the_notification_with_notify_ms_refreshed() -> None:
    original = notice()

    sent = json.loads(envelope.body(original, 1_700_000_000_123))

    assert sent == {**original, "notifyMs": 1_700_000_000_123}
    assert list(sent) == ["noticeId", "productId", "eventType", "notifyMs", "sid", "payload"]
    assert list(sent["payload"]) == ["cname", "uid", "sid", "sequence", "sendts", "serviceType",
                                     "serviceScene", "details"]
    assert (sent["productId"], sent["payload"]["sequence"]) == (3, 0)


def test_each_attempt_is_signed_over_its_own_bytes() -> None:
    first, second = envelope.body(notice(), 1), envelope.body(notice(), 2)

    assert first != second
    assert envelope.verify(second, envelope.headers(second, "k"), "k")
    assert not envelope.verify(second, envelope.headers(first, "k"), "k")
