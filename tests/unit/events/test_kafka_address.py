"""The Kafka log's URL: the topic, the partitions when cloudrec creates it, the readers' heads
budget; anything else is refused with a reason (no broker needed)."""

from __future__ import annotations

import pytest

from cloudrec.events.kafka import DEFAULT_PARTITIONS, DEFAULT_TOPIC, KafkaAddress


def test_the_url_names_the_brokers_the_topic_and_its_options() -> None:
    assert KafkaAddress.parse("kafka://a:9092,b:9092") == KafkaAddress(
        "a:9092,b:9092", DEFAULT_TOPIC, DEFAULT_PARTITIONS, None)
    assert KafkaAddress.parse("kafka://a:9092/t?partitions=4&read_ids=20000") == KafkaAddress(
        "a:9092", "t", 4, 20_000)


@pytest.mark.parametrize("url, reason", [
    ("kafka:///t", "no bootstrap server"),
    ("kafka://a:9092?partition=4", "unknown option"),
    ("kafka://a:9092?partitions=0", "at least 1"),
    ("kafka://a:9092?partitions=four", "whole numbers"),
    ("kafka://a:9092?read_ids=10", "at least 1000"),
])
def test_a_bad_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        KafkaAddress.parse(url)
