"""The worker: takes job messages off the queue and runs their handlers, at least once.

``python -m game_service worker`` runs it (a second process beside the server on each app
host of starter and small, its own hosts on scale-out's worker tier). Per message:

1. the job's row is started (``repository.jobs.start``): a finished job (a second delivery)
   only has its message deleted;
2. its handler runs while a heartbeat keeps the message hidden
   (``ChangeMessageVisibility`` every third of ``job_visibility_seconds``): a slow job is not
   handed to a second worker, a dead worker's job comes back within that time;
3. success or a refusal (an answer, e.g. "not a picture"): the message is deleted;
4. a failure: the row keeps the reason and the message comes back after a backoff (5, 10,
   20 s ...); the attempt that reaches ``job_max_receives`` records the job as failed with
   its reason, and SQS's redrive policy moves the message to the dead-letter queue.

SIGTERM stops taking messages; the job in hand gets ``worker_shutdown_grace_seconds`` to
finish, then its message is released (visible at once) for another worker: a worker being
replaced never loses a message.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service.contract import JOB_WORKER_DB_CONNECTIONS
from game_service.core.config import Settings
from game_service.jobs.queue import Delivery, SqsQueue
from game_service.repository import jobs as job_rows
from game_service.repository.jobs import Job

log = logging.getLogger("game_service.worker")


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    storage: object
    queue: SqsQueue
    http: httpx.AsyncClient  # Facebook's Graph API (the friends import)


Handler = Callable[[Context, Job], Awaitable[str]]


def backoff_seconds(settings: Settings, receive_count: int) -> float:
    return min(settings.job_backoff_base_seconds * 2 ** max(0, receive_count - 1), settings.job_backoff_max_seconds)


class Worker:
    def __init__(self, ctx: Context, handlers: dict[str, Handler]):
        self.ctx = ctx
        self.handlers = handlers
        self.stop = asyncio.Event()

    async def run(self) -> None:
        s = self.ctx.settings
        log.info("worker started", extra={"queue": self.ctx.queue.url})
        while not self.stop.is_set():
            receive = asyncio.ensure_future(asyncio.to_thread(self.ctx.queue.receive, 1, s.job_wait_seconds))
            stopping = asyncio.ensure_future(self.stop.wait())
            await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not receive.done():
                # stopping while long-polling: a message received now is released at once
                try:
                    for delivery in await receive:
                        await asyncio.to_thread(self.ctx.queue.release, delivery.receipt, 0)
                except Exception as exc:  # noqa: BLE001 - unreleased, it comes back after its visibility timeout
                    log.warning("release at shutdown failed", extra={"error": f"{type(exc).__name__}: {exc}"})
                break
            try:
                deliveries = receive.result()
            except Exception as exc:  # noqa: BLE001 - the queue is unreachable: say so, try again
                log.error("queue receive failed", extra={"error": f"{type(exc).__name__}: {exc}"})
                await self._sleep(5)
                continue
            for delivery in deliveries:
                await self.handle(delivery)
        log.info("worker stopped")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def handle(self, delivery: Delivery) -> str:
        """Run one message; returns what happened (done, refused, duplicate, retry, failed,
        released, not-a-job)."""
        ctx, s, queue = self.ctx, self.ctx.settings, self.ctx.queue
        if delivery.job_id is None:
            # nothing to run and nothing to record: it goes to the dead-letter queue by the redrive
            log.error("not a job message", extra={"body": delivery.body[:200], "receives": delivery.receive_count})
            await asyncio.to_thread(queue.release, delivery.receipt, backoff_seconds(s, delivery.receive_count))
            return "not-a-job"
        job = await job_rows.start(ctx.engine, delivery.job_id)
        if job is None:
            await asyncio.to_thread(queue.delete, delivery.receipt)
            log.info("job already finished", extra={"job": delivery.job_id})
            return "duplicate"
        handler = self.handlers.get(job.kind)
        task = asyncio.ensure_future(handler(self.ctx, job) if handler else self._unknown(job))
        heartbeat = asyncio.ensure_future(self._heartbeat(delivery))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), s.worker_shutdown_grace_seconds)
                except TimeoutError:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await job_rows.note_failure(ctx.engine, job.id, "the worker stopped before the job finished")
                    await asyncio.to_thread(queue.release, delivery.receipt, 0)
                    log.warning("job released at shutdown", extra={"job": job.id})
                    return "released"
        finally:
            heartbeat.cancel()
            stopping.cancel()
        try:
            outcome = task.result()
        except Exception as exc:  # noqa: BLE001 - the job failed: retried, then dead-lettered
            return await self._failed(delivery, job, f"{type(exc).__name__}: {exc}")
        await job_rows.complete(ctx.engine, job.id)
        await asyncio.to_thread(queue.delete, delivery.receipt)
        log.info("job finished", extra={"job": job.id, "kind": job.kind, "outcome": outcome, "attempt": job.attempts})
        return outcome

    async def _unknown(self, job: Job) -> str:
        raise LookupError(f"no handler for jobs of kind {job.kind!r} in this release")

    async def _failed(self, delivery: Delivery, job: Job, reason: str) -> str:
        ctx, s = self.ctx, self.ctx.settings
        if delivery.receive_count >= s.job_max_receives:
            await job_rows.give_up(ctx.engine, job.id, f"failed {delivery.receive_count} times; last: {reason}")
            # visible at once: SQS moves it to the dead-letter queue on its next receive
            await asyncio.to_thread(ctx.queue.release, delivery.receipt, 0)
            log.error("job failed for good: to the dead-letter queue",
                      extra={"job": job.id, "kind": job.kind, "receives": delivery.receive_count, "error": reason})
            return "failed"
        await job_rows.note_failure(ctx.engine, job.id, reason)
        delay = backoff_seconds(s, delivery.receive_count)
        await asyncio.to_thread(ctx.queue.release, delivery.receipt, delay)
        log.warning("job attempt failed; retried later",
                    extra={"job": job.id, "kind": job.kind, "receives": delivery.receive_count, "retry_in_s": delay,
                           "error": reason})
        return "retry"

    async def _heartbeat(self, delivery: Delivery) -> None:
        s = self.ctx.settings
        while True:
            await asyncio.sleep(s.job_visibility_seconds / 3)
            try:
                await asyncio.to_thread(self.ctx.queue.extend, delivery.receipt, s.job_visibility_seconds)
            except Exception as exc:  # noqa: BLE001 - a missed beat: the next one may land
                log.warning("heartbeat failed", extra={"job": delivery.job_id, "error": f"{type(exc).__name__}: {exc}"})


def serve(settings: Settings) -> None:
    """``python -m game_service worker``: until SIGTERM or SIGINT."""
    from game_service.core.db import make_engine
    from game_service.core.facebook import make_http
    from game_service.core.storage import make_storage
    from game_service.jobs.handlers import HANDLERS

    async def main() -> None:
        # one job at a time: a pool of its own size, not the server's (contract.JOB_WORKER_DB_CONNECTIONS)
        pool = settings.model_copy(update={"db_pool_size": JOB_WORKER_DB_CONNECTIONS, "db_max_overflow": 0})
        ctx = Context(settings=settings, engine=make_engine(pool), storage=make_storage(settings),
                      queue=SqsQueue(settings.job_queue_url), http=make_http())
        worker = Worker(ctx, HANDLERS)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        try:
            await worker.run()
        finally:
            await ctx.http.aclose()
            await ctx.engine.dispose()

    asyncio.run(main())
