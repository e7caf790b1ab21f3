"""The enrollment service on MQTT: kiosks' requests in, certificates (or refusals) out.

It connects to the broker's MAIN listener as the central side (user ``central`` in the shipped
ACL) and, on every connection, publishes the broker CA's certificate retained on
``{prefix}/enroll/ca`` (kiosks read it anonymously over the enrollment listener) and subscribes
to ``{prefix}/enroll/+/request``. Each request is answered on the requesting client's own
``{prefix}/enroll/{client id}/reply`` (the enrollment ACL lets a client read only its own).

The session is persistent with a fixed client id and requests are acknowledged to the broker
only after their reply was handed over, so a request sent while the service is down is answered
when it returns. Answers are idempotent (:mod:`central.onboarding.tokens`), so a repeat is harmless.
Everything runs on the thread that calls :meth:`EnrollServer.run`, never in paho callbacks.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from central.onboarding.service import EnrollService
from common.mqtt.link import MqttLink
from common.mqtt.types import (
    Connected,
    Disconnected,
    LinkOptions,
    Message,
    PublishResult,
    Subscribed,
)
from models.enrollment import all_requests, ca_topic, client_of_request, reply_topic

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "kiosk-enroll-service"
SESSION_EXPIRY_S = 24 * 3600
IDLE_POLL_S = 0.2


class EnrollServer:
    """Answers enrollment requests with ``service`` over the connection ``options`` describe.

    ``options`` gives the broker URL, client id and login; the subscription, session and
    acknowledgement settings are set here. ``ca_pem`` is the certificate kiosks must trust.
    """

    def __init__(
        self,
        service: EnrollService,
        options: LinkOptions,
        ca_pem: bytes,
        topic_prefix: str = "attendance/v1",
    ) -> None:
        self.service = service
        self.prefix = topic_prefix
        self.ca_pem = ca_pem
        self.options = dataclasses.replace(
            options,
            clean_start=False,
            session_expiry_s=SESSION_EXPIRY_S,
            subscriptions=((all_requests(topic_prefix), 1),),
            manual_ack=True,
        )
        self.ready = threading.Event()
        """Set while subscribed with the CA certificate published (the broker took it)."""
        self._ca_mid: int | None = None
        self._subscribed = False
        self._ca_published = False
        self._replies: dict[int, str] = {}

    def run(self, stop: threading.Event) -> None:
        """Answer requests until ``stop`` is set."""
        link = MqttLink(self.options, interrupt=stop)
        log.info("enrollment service: answering %s", all_requests(self.prefix))
        try:
            while not stop.is_set():
                for event in link.poll(IDLE_POLL_S):
                    if isinstance(event, Connected):
                        self._publish_ca(link)
                    elif isinstance(event, Subscribed):
                        self._subscribed = True
                    elif isinstance(event, Disconnected):
                        self.ready.clear()
                        self._ca_mid = None
                        self._subscribed = self._ca_published = False
                        self._replies.clear()
                    elif isinstance(event, PublishResult):
                        self._published(event)
                    elif isinstance(event, Message):
                        self._answer(link, event)
                if self._subscribed and self._ca_published:
                    self.ready.set()
        finally:
            self.ready.clear()
            link.close()

    def _publish_ca(self, link: MqttLink) -> None:
        self._ca_mid = link.publish(ca_topic(self.prefix), self.ca_pem, qos=1, retain=True)
        if self._ca_mid is None:
            log.warning("enrollment service: the CA certificate was not sent (not connected)")

    def _published(self, result: PublishResult) -> None:
        if result.mid == self._ca_mid:
            self._ca_mid = None
            if result.ok:
                log.info(
                    "enrollment service: CA certificate published on %s", ca_topic(self.prefix)
                )
                self._ca_published = True
            else:
                log.error(
                    "enrollment service: the broker refused the CA certificate on %s (%s);"
                    " check the ACL",
                    ca_topic(self.prefix),
                    result.reason,
                )
            return
        client_id = self._replies.pop(result.mid, None)
        if client_id is not None and not result.ok:
            log.error("enrollment reply to %s refused by the broker: %s", client_id, result.reason)

    def _answer(self, link: MqttLink, message: Message) -> None:
        client_id = client_of_request(self.prefix, message.topic)
        if client_id is None:
            log.debug("ignored a message on %s", message.topic)
            link.ack(message)
            return
        outcome = self.service.decide(client_id, message.payload)
        reply = outcome.reply
        mid = link.publish(reply_topic(self.prefix, client_id), reply.model_dump_json().encode())
        log.info(
            "enroll %s from %s: %s%s%s",
            outcome.terminal_id or "-",
            client_id,
            reply.status,
            f" {reply.reason}" if reply.reason else "",
            f" ({reply.detail})" if reply.detail else "",
        )
        if mid is None:
            log.warning("enrollment reply to %s not sent (not connected); asks again", client_id)
            return  # not acknowledged: the broker delivers the request again
        self._replies[mid] = client_id
        link.ack(message)
