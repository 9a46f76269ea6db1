"""The job queue: an SQS queue and its dead-letter queue, the redrive between them, secure
by default (SQS-managed encryption at rest, TLS-only). Its alarms are the monitoring stack's."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns.nag import acknowledge

MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit
MAX_RETENTION_DAYS = 14  # SQS's limit


class JobQueue(Construct):
    """``queue`` (what the worker reads) and ``dead_letters`` (where SQS moves a message
    received ``max_receives`` times without being deleted: kept the longest SQS allows, 14
    days, for a person to read and redrive).
    """

    def __init__(self, scope: Construct, id_: str, *, visibility_seconds: int, max_receives: int,
                 retention_days: int = 4) -> None:
        super().__init__(scope, id_)
        if not 1 <= visibility_seconds <= MAX_VISIBILITY_SECONDS:
            raise ValueError(f"{id_}: visibility_seconds must be 1..{MAX_VISIBILITY_SECONDS}, got {visibility_seconds}")
        if not 1 <= max_receives <= 1000:
            raise ValueError(f"{id_}: max_receives must be 1..1000, got {max_receives}")
        if not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"{id_}: retention_days must be 1..{MAX_RETENTION_DAYS}, got {retention_days}")
        self.dead_letters = sqs.Queue(
            self, "DeadLetters",
            retention_period=Duration.days(MAX_RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(self.dead_letters, "AwsSolutions-SQS3",
                    "This is the dead-letter queue of the job queue; its messages are read and "
                    "redriven by a person, so it has no dead-letter queue of its own.")
        self.queue = sqs.Queue(
            self, "Queue",
            visibility_timeout=Duration.seconds(visibility_seconds),
            retention_period=Duration.days(retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receives, queue=self.dead_letters),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.max_receives = max_receives
        self.visibility_seconds = visibility_seconds
