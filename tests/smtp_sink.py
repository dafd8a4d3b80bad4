"""A local SMTP server for tests (aiosmtpd in a thread, on a free loopback
port): the portal's mail goes to it over real SMTP. It keeps every message
it accepted, and can refuse the first ones with a temporary error (451) or
keep the connection waiting after receiving one (a server that took the
message but whose answer never came back), and refuse some addresses (550)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.processes import free_port


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address in self.sink.refuse_recipients:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        sink = self.sink
        with sink.lock:
            sink.attempts += 1
            if sink.refuse_next > 0:
                sink.refuse_next -= 1
                return "451 4.3.0 Temporarily unable to accept the message"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            sink.messages.append(parsed)
            stall = sink.stall_next_s
            sink.stall_next_s = 0
        if stall:
            await asyncio.sleep(stall)
        return "250 2.0.0 Accepted"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.attempts = 0
        self.refuse_next = 0
        self.stall_next_s = 0.0
        self.refuse_recipients: set[str] = set()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def environment(self) -> dict[str, str]:
        """For a process (a worker) that should send its mail here."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}

    def wait_for(self, count: int, timeout_s: float = 20) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"the SMTP sink got {len(self.messages)} messages, not {count}, in {timeout_s} s")
