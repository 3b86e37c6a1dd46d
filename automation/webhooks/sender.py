"""The webhook sender: a worker loop that sends pending deliveries, retrying with backoff.

Each delivery is claimed with a conditional update (pending -> sending), so of
several workers exactly one sends it; the HTTP request runs outside any
transaction; the outcome is recorded as a DeliveryAttempt. A failure is tried
again after L4D2_WEBHOOK_RETRY_SECONDS, doubling each time, up to 5 tries; a
receiver that refuses for good (4xx other than 408/429, a refused address, a
redirect) is not tried again.
"""

import http.client
import logging
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from l4d2site.db import until_answered
from l4d2site.loops import WorkerLoop

from ..history import keep_newest
from ..models import Delivery, DeliveryAttempt, DeliveryState
from ..models.webhooks import DELIVERIES_KEPT
from . import net, payload, receiver

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds per connect and per read: a slow receiver costs a sender at most this
PARALLEL = 4  # deliveries sent at once by one worker
BACKOFF_MAX = 3600.0
RELEASE_EVERY = 60.0  # seconds between looks for deliveries whose worker died mid-send


class WebhookSender(WorkerLoop):
    interval = 1.0
    wake_group = receiver.SENDERS

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="webhook")
        self.released_at = 0.0

    def run_once(self):
        if time.monotonic() - self.released_at >= RELEASE_EVERY:
            self.released_at = time.monotonic()
            Delivery.objects.release_stuck()
        while not self.stopping.is_set():
            claimed = self.claim_batch()
            if not claimed:
                return
            list(self.pool.map(send_in_thread, claimed))

    def claim_batch(self):
        """Up to PARALLEL due deliveries this worker won (others may be claiming the same ones)."""
        claimed = []
        candidates = Delivery.objects.due().order_by("next_attempt_at", "id").values_list("id", flat=True)
        for delivery_id in candidates[: PARALLEL * 2]:
            if len(claimed) == PARALLEL:
                break
            if Delivery.objects.claim(delivery_id):
                claimed.append(delivery_id)
        return claimed

    def close(self):
        self.pool.shutdown(wait=True)


def send_in_thread(delivery_id):
    try:
        send(delivery_id)
    except Exception:
        log.exception("webhook delivery %s failed unexpectedly", delivery_id)
    finally:
        connection.close()


class Outcome(NamedTuple):
    status: int | None = None  # the receiver's HTTP status, if it answered
    error: str = ""  # empty: delivered
    permanent: bool = False  # no point in trying again
    retry_after: float = 0.0  # seconds the receiver asked us to wait (429 Retry-After)


def send(delivery_id):
    """One try at a claimed delivery, recorded; the delivery ends delivered, failed or pending again."""
    delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
    started = time.monotonic()
    outcome = attempt(delivery)
    duration_ms = int((time.monotonic() - started) * 1000)
    # The receiver has it now: its outcome must be stored whatever the database does, or
    # the delivery would be released as stuck and sent again.
    until_answered(lambda: record(delivery, outcome, duration_ms))
    keep_newest(delivery.webhook.deliveries.all(), DELIVERIES_KEPT)


@transaction.atomic
def record(delivery, outcome, duration_ms):
    """The try and the delivery's next state together; nothing if an earlier call whose
    answer an outage swallowed already did it (the delivery is no longer sending)."""
    if not Delivery.objects.select_for_update().filter(pk=delivery.pk, state=DeliveryState.SENDING).exists():
        return
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        status_code=outcome.status,
        error=outcome.error[:500],
        duration_ms=duration_ms,
    )
    finish(delivery, outcome)


def attempt(delivery):
    hook = delivery.webhook
    if not hook.enabled:
        return Outcome(error="The webhook was disabled before this was sent.", permanent=True)
    data, headers = payload.encode(hook, delivery.payload)
    try:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
        answer = net.post(hook.url, data, headers, timeout=TIMEOUT, allow_private=allow_private)
    except net.Refused as exc:
        return Outcome(error=str(exc), permanent=True)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(error=f"Could not reach the receiver: {unreachable(exc)}")
    return judge(answer)


def unreachable(exc):
    """Why the receiver could not be reached, in words an owner can act on (not "[Errno -2] ...")."""
    if isinstance(exc, socket.gaierror):
        return "its host name was not found (check the URL's spelling; DNS has no such name)."
    if isinstance(exc, ConnectionRefusedError):
        return "the host refused the connection (nothing listens on that port)."
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT:g} s."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not valid ({exc.verify_message})."
    if isinstance(exc, ssl.SSLError):
        return "the TLS (https) handshake failed."
    if isinstance(exc, ConnectionResetError):
        return "the connection was closed before an answer came."
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}."
    return f"{exc or type(exc).__name__}"


def judge(answer):
    """The Outcome of the receiver's answer: delivered for 2xx."""
    if 200 <= answer.status < 300:
        return Outcome(answer.status)
    # The status has a column of its own; the error says the rest.
    text = (
        ": ".join(part for part in (answer.reason.strip(), answer.body.strip()) if part)
        or "(no reason given)"
    )
    if 300 <= answer.status < 400:
        return Outcome(answer.status, f"{text} (redirects are not followed)", permanent=True)
    # The receiver understood and said no: the same request will get the same answer.
    permanent = 400 <= answer.status < 500 and answer.status not in (408, 429)
    retry_after = _seconds(answer.retry_after) if answer.status == 429 else 0.0
    return Outcome(answer.status, text, permanent, retry_after)


def _seconds(header):
    try:
        return min(BACKOFF_MAX, max(0.0, float(header or 0)))
    except ValueError:  # an HTTP date: the exponential backoff will do
        return 0.0


def finish(delivery, outcome):
    now = timezone.now()
    if not outcome.error:
        fields = {"state": DeliveryState.DELIVERED, "finished_at": now}
    elif outcome.permanent or delivery.attempts >= delivery.max_attempts:
        fields = {"state": DeliveryState.FAILED, "finished_at": now}
    else:
        wait = min(BACKOFF_MAX, settings.WEBHOOK_RETRY_SECONDS * 2 ** (delivery.attempts - 1))
        wait = max(wait, outcome.retry_after)
        fields = {"state": DeliveryState.PENDING, "next_attempt_at": now + timedelta(seconds=wait)}
    Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(**fields)
