"""Broker URLs and MQTT topics, without a broker.

MqttLink against a real mosquitto: tests/integration/test_mqtt_link.py.
"""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from common.mqtt.broker_url import BrokerAddress
from common.mqtt.topics import Topics


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.local", BrokerAddress("broker.local", 1883, False)),
        ("mqtts://broker.local", BrokerAddress("broker.local", 8883, True)),
        ("mqtt://10.0.0.5:1884/", BrokerAddress("10.0.0.5", 1884, False)),
        ("mqtts://[::1]:8884", BrokerAddress("::1", 8884, True)),
    ],
)
def test_broker_urls_parse_with_default_ports(url: str, expected: BrokerAddress):
    assert BrokerAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://host", "host:1883", "mqtt://", "mqtt://host:99999", "mqtt://u:p@host", "mqtt://h/x"],
)
def test_bad_broker_urls_are_one_line_config_errors(url: str):
    with pytest.raises(ConfigError) as error:
        BrokerAddress.parse(url)
    assert url in str(error.value) and "\n" not in str(error.value)


def test_topics():
    topics = Topics("site/att")
    assert topics.events("k-1") == "site/att/k-1/events"
    assert topics.all_events("hr") == "$share/hr/site/att/+/events"
    assert topics.terminal_of_events("site/att/k-1/events") == "k-1"
    assert topics.terminal_of_events("site/att/a/b/events") is None
    assert topics.terminal_of_events("other/k-1/events") is None
    for prefix in ("", "a/+", "/a", "a/", "$SYS"):
        with pytest.raises(ConfigError):
            Topics(prefix)
    with pytest.raises(ConfigError):
        topics.all_events("bad/group")
