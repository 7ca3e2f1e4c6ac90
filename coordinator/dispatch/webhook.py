"""Webhook delivery: an HTTP POST of JSON, signed, retried with exponential backoff (tenacity).

The signature is ``X-Vigie-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the
team's secret, so a receiver can refuse forged or altered calls; ``X-Vigie-Delivery`` carries
the delivery id so that a receiver can ignore a retry it already processed (delivery is at
least once: a timeout after the receiver committed is retried).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

SIGNATURE_HEADER = "X-Vigie-Signature"
DELIVERY_HEADER = "X-Vigie-Delivery"


class WebhookError(Exception):
    """One failed attempt: no answer, or an answer other than 2xx."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 1.0  # first wait; doubles each time
    backoff_max_s: float = 60.0
    timeout_s: float = 5.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_once(url: str, body: bytes, secret: str | None, delivery_id: int, timeout_s: float) -> int:
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(delivery_id), "User-Agent": "vigie-coordinator"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code}", exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookError(f"no answer: {exc}") from exc
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status}", status)
    return status


def deliver(url: str, payload: dict[str, Any], secret: str | None, delivery_id: int, policy: RetryPolicy,
            record: Callable[[bool, int | None, str | None], None]) -> bool:
    """POST until a 2xx or ``policy.attempts`` failures; ``record`` is told of every attempt."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    retrying = Retrying(stop=stop_after_attempt(policy.attempts),
                        wait=wait_exponential(multiplier=policy.backoff_s, max=policy.backoff_max_s),
                        retry=retry_if_exception_type(WebhookError), reraise=True)
    try:
        for attempt in retrying:
            with attempt:
                try:
                    status = post_once(url, body, secret, delivery_id, policy.timeout_s)
                except WebhookError as exc:
                    record(False, exc.status, str(exc))
                    raise
                record(True, status, None)
    except WebhookError:
        return False
    return True
