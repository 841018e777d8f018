"""Child process of test_resume_kill: sends (or resumes) a campaign until killed.

    python -m tests.core.resume_worker WORKSPACE LOG

The fake provider appends each accepted notification id to LOG with one ``write``
system call before answering, so what "the server saw" survives ``kill -9``.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from typing import ClassVar

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
from pushdeck.core.common.model import Device, Message, ProviderKind, SendResult, SendStatus
from pushdeck.core.providers.base import CheckResult
from pushdeck.core.store import Workspace


class LoggingProvider:
    kind: ClassVar[ProviderKind] = ProviderKind.APNS

    def __init__(self, log_fd: int) -> None:
        self.fd = log_fd
        self.rng = random.Random()

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        await asyncio.sleep(self.rng.uniform(0, 0.004))
        if self.rng.random() < 0.03:  # a few retryable failures on the way
            return SendResult(SendStatus.REJECTED, self.kind, 503, retryable=True)
        os.write(self.fd, f"{notification_id}\n".encode())
        return SendResult(SendStatus.ACCEPTED, self.kind, 200, provider_id=notification_id)

    async def check(self) -> CheckResult:
        return CheckResult(True, "logging fake")

    async def aclose(self) -> None:
        os.close(self.fd)


def main() -> None:
    workspace, log = sys.argv[1], sys.argv[2]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with Workspace.open(workspace) as ws:
        options = DispatchOptions(backoff_base=0.002, backoff_cap=0.01, flush_interval=0.05)
        asyncio.run(
            send_campaign_async(
                ws, "K", providers={ProviderKind.APNS: LoggingProvider(fd)}, options=options
            )
        )


if __name__ == "__main__":
    main()
