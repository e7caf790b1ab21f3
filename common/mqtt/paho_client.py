"""Building a paho-mqtt 2.x client (MQTT v5) from :class:`~common.mqtt.types.LinkOptions`."""

from __future__ import annotations

import logging
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.errors import ConfigError
from common.mqtt.broker_url import BrokerAddress, TlsOptions
from common.mqtt.types import LinkOptions

log = logging.getLogger("common.mqtt.link")


def paho_client(options: LinkOptions, address: BrokerAddress) -> mqtt.Client:
    """A configured, unconnected client: credentials, TLS for ``mqtts``, last will, limits.

    Raises :class:`ConfigError` (one line, naming the files) when the TLS files cannot be read.

    No callbacks are set and no network thread is started; the caller owns both.
    """
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=options.client_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
        manual_ack=options.manual_ack,
    )
    if log.isEnabledFor(logging.DEBUG):
        client.enable_logger(log.getChild("paho"))
    client.connect_timeout = options.connect_timeout_s
    client.max_inflight_messages_set(options.max_inflight)
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    if address.tls:
        tls = options.tls or TlsOptions()
        try:
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=None if tls.verify else ssl.CERT_NONE,
            )
            if not tls.verify:
                client.tls_insecure_set(True)
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(str(f) for f in (tls.ca_file, tls.cert_file, tls.key_file) if f)
            problem = f"cannot load the TLS files ({files or 'system CAs'}): {exc}"
            raise ConfigError(problem) from None
    if options.will is not None:
        will = options.will
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client
