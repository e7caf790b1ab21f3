"""Every parser of what the central side sends a terminal, fed JSON nested far deeper than
Python's recursion limit and messages over their size limit: each refuses with a reason (or,
for the command-id peeks, finds no id) and none raises RecursionError.

pydantic's JSON parser (jiter) stops at its own nesting limit and reports invalid JSON;
``json.loads`` would recurse and raise RecursionError, which is why no network payload goes
through it. The same paths against a real broker: tests/integration/test_commands.py,
test_roster.py and test_sync.py.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.errors import MessageError
from models.command import (
    MAX_COMMAND_BYTES,
    MAX_ENVELOPE_BYTES,
    CommandEnvelope,
    build_command,
    payload_command_id,
    peek_command_id,
)
from models.roster import RosterEnvelope
from models.roster_codec import MALFORMED, RosterRefusal, open_roster_message
from models.signed_envelope import EnvelopeRefusal, open_envelope, sign_payload
from terminal.sync.messages import parse_ack

DEEP = b"[" * 100_000 + b"]" * 100_000
NESTED = "Invalid JSON: nested too deeply (recursion limit exceeded at line 1 column"


def _no_key(_key_id: str) -> None:
    return None


def _deep_object(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def test_an_ack_nested_too_deeply_is_refused_with_a_reason():
    for payload in (DEEP, _deep_object(30_000)):
        with pytest.raises(MessageError, match=r"^message: Invalid JSON: nested too deeply"):
            parse_ack(payload)


def test_a_roster_message_nested_too_deeply_is_refused_as_malformed():
    key = Ed25519PrivateKey.generate()
    signed_deep = sign_payload(RosterEnvelope, DEEP, key, "HR1")
    for data, reason in [
        (DEEP, f"not a roster envelope: message: {NESTED}"),
        (signed_deep, f"malformed payload: message: {NESTED}"),
    ]:
        with pytest.raises(RosterRefusal) as refused:
            open_roster_message(data, lambda _key_id: key.public_key(), "kiosk-01")
        assert refused.value.kind == MALFORMED and refused.value.reason.startswith(reason)


def test_a_command_envelope_is_size_checked_before_it_is_parsed():
    oversized = DEEP + b" " * MAX_ENVELOPE_BYTES
    for data, reason in [
        (oversized, f"{len(oversized)} bytes, more than the {MAX_ENVELOPE_BYTES} a command"),
        (b"[" * 10_000 + b"]" * 10_000, f"not a command envelope: message: {NESTED}"),
    ]:
        with pytest.raises(EnvelopeRefusal) as refused:
            open_envelope(
                data, CommandEnvelope, lambda _key_id: None, MAX_ENVELOPE_BYTES, "command envelope"
            )
        assert refused.value.reason.startswith(reason), refused.value.reason


def test_the_command_id_peeks_find_none_in_deep_or_oversized_input_and_never_recurse():
    key = Ed25519PrivateKey.generate()
    command, message = build_command(key, "HR1", "kiosk-01", "sync_now")
    assert peek_command_id(message) == command.command_id
    command_id = str(uuid.uuid4())
    deep_payload = b'{"command_id": "' + command_id.encode() + b'", "args": ' + DEEP[:20_000] + b"}"
    deep_inside = json.dumps({"payload": base64.b64encode(deep_payload).decode()}).encode()
    shallow = json.dumps({"command_id": command_id}).encode()
    assert peek_command_id(DEEP) is None  # oversized: not looked into
    assert peek_command_id(DEEP[:10_000] + DEEP[-10_000:]) is None  # within the size limit
    assert peek_command_id(deep_inside) is None
    assert payload_command_id(b"[" * 8000 + b"]" * 8000) is None
    assert payload_command_id(shallow + b" " * MAX_COMMAND_BYTES) is None  # oversized
    assert payload_command_id(shallow) == uuid.UUID(command_id)
