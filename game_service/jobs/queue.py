"""The job queue: Amazon SQS, through boto3 (moto's SQS in tests and on this machine).

A message is ``{"job": <id>}``, nothing else: what the job is lives in its row
(``game_service.repository.jobs``). The queue has a dead-letter queue and a redrive policy
(set by the infrastructure): a message received ``maxReceiveCount`` times without being
deleted is moved there by SQS itself, so no failure can make a job vanish.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    receipt: str
    receive_count: int  # SQS's ApproximateReceiveCount: 1 on the first delivery
    job_id: int | None  # None: the body is not a job message (it is left for the dead-letter queue)
    body: str


def parse_body(body: str) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    job = data.get("job") if isinstance(data, dict) else None
    return job if isinstance(job, int) and not isinstance(job, bool) and job > 0 else None


class QueueUnavailable(Exception):
    """A message could not be sent (SQS unreachable, refusing, or too slow)."""


class SqsQueue:
    def __init__(self, url: str, client=None, *, in_request: bool = False):
        """``in_request``: the server's sender, inside a player's request: it gives up within a
        few seconds (2 s to connect, 5 s to answer, one retry) and the request answers 503,
        where the worker's client waits through five attempts."""
        if client is None:
            import boto3
            from botocore.config import Config

            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            config = (Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
                      if in_request else Config(retries={"max_attempts": 5, "mode": "standard"}))
            client = boto3.client("sqs", region_name=region, config=config)
        self.url = url
        self.sqs = client

    def send(self, job_id: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"job": job_id}))
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def receive(self, max_messages: int = 1, wait_seconds: int = 10) -> list[Delivery]:
        got = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Delivery(receipt=m["ReceiptHandle"], receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                     job_id=parse_body(m.get("Body", "")), body=m.get("Body", ""))
            for m in got.get("Messages", [])
        ]

    def extend(self, receipt: str, seconds: int) -> None:
        """A heartbeat: the message stays invisible to other workers ``seconds`` from now."""
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=int(seconds))

    def release(self, receipt: str, delay_seconds: float = 0) -> None:
        """Give the message back: visible again after ``delay_seconds`` (0: at once)."""
        self.extend(receipt, max(0, round(delay_seconds)))

    def delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    def depth(self) -> dict[str, int]:
        """Messages waiting and in flight (the backlog the scaling policy reads from CloudWatch)."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return {"visible": int(attrs["Attributes"]["ApproximateNumberOfMessages"]),
                "in_flight": int(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"])}
