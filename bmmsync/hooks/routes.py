"""`POST /hooks/github` and `POST /hooks/jira` as Starlette routes, for the service's server.

Order matters: size cap, then the signature over the raw bytes, then parsing; nothing in a
refused request is echoed back, and every refusal is counted by cause in the store. A valid
delivery costs one INSERT into the queue and is answered 202: the worker does the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bmmsync.config.settings import Config
from bmmsync.hooks.deliveries import Ping, Refused, github_delivery, jira_delivery
from bmmsync.hooks.signature import verify
from bmmsync.store.database import Store
from bmmsync.store.event_queue import Delivery, count_refusal, enqueue

log = logging.getLogger("bmmsync.hooks")

MAX_BODY = 1024 * 1024
"""Bytes; GitHub caps its payloads at 25 MB, but issue events are a few kB."""


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def hook_routes(
    config: Callable[[], Config], store: Store, on_queued: Callable[[], None] | None = None
) -> list[Route]:
    """The two endpoints. `config` gives the current config (the service may reload it);
    `on_queued` wakes this process's worker when a new delivery is stored."""

    def counted(tracker: str, cause: str) -> None:
        with store.session() as session:
            count_refusal(session, tracker, cause, datetime.now(UTC))

    def queued(delivery: Delivery) -> bool:
        with store.session() as session:
            return enqueue(session, delivery, datetime.now(UTC))

    async def refuse(tracker: str, cause: str, status: int, message: str) -> Response:
        log.info("webhook refused", extra={"tracker": tracker, "cause": cause})
        try:
            await run_in_threadpool(counted, tracker, cause)
        except SQLAlchemyError:
            log.warning("could not count a refused %s delivery (store unavailable)", tracker)
        return JSONResponse({"error": message}, status)

    def endpoint(tracker: str) -> Callable[[Request], object]:
        async def receive(request: Request) -> Response:
            try:
                body = await _read_capped(request)
            except _TooLarge:
                return await refuse(tracker, "too-large", 413, "payload too large")
            current = config().webhooks
            secret = current.github_secret if tracker == "github" else current.jira_secret
            header_name = "x-hub-signature-256" if tracker == "github" else "x-hub-signature"
            header = request.headers.get(header_name)
            if secret is None:
                return await refuse(tracker, "no-secret", 401, "unauthorized")
            if not header:
                return await refuse(tracker, "unsigned", 401, "unauthorized")
            if not verify(secret.get_secret_value(), body, header):
                return await refuse(tracker, "bad-signature", 401, "unauthorized")
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return await refuse(tracker, "not-json", 400, "body is not JSON")
            try:
                if tracker == "github":
                    delivery = github_delivery(
                        config(),
                        request.headers.get("x-github-event"),
                        request.headers.get("x-github-delivery"),
                        body,
                        payload,
                    )
                else:
                    delivery = jira_delivery(
                        config(), request.headers.get("x-atlassian-webhook-identifier"), payload
                    )
            except Ping:
                return JSONResponse({"ok": True}, 200)
            except Refused as exc:  # unwatched or not an event we take: do not ask to resend
                status = 400 if exc.cause == "malformed" else 202
                return await refuse(tracker, exc.cause, status, "not queued")
            try:
                new = await run_in_threadpool(queued, delivery)
            except SQLAlchemyError:  # Jira retries on 5xx; GitHub leaves it to the poll
                log.error("webhook queue unavailable: %s delivery not stored", tracker)
                return JSONResponse({"error": "store unavailable"}, 503)
            if not new:
                return await refuse(tracker, "duplicate", 200, "duplicate delivery")
            if on_queued is not None:
                on_queued()
            return JSONResponse({"queued": True}, 202)

        return receive

    return [
        Route("/hooks/github", endpoint("github"), methods=["POST"]),
        Route("/hooks/jira", endpoint("jira"), methods=["POST"]),
    ]
