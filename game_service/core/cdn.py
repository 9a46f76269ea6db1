"""The CDN in front of the media: after a player's media are deleted, CloudFront's copies of
them are invalidated (its media behaviour caches for up to a year), so deleted means gone."""

from __future__ import annotations

import time
import uuid

from game_service.core.config import Settings, aws_client, read_parameter


def invalidate(settings: Settings, paths: list[str]) -> str | None:
    """Ask CloudFront to drop ``paths`` (e.g. ``/media/avatars/7/*``) from its caches; returns
    the invalidation's id, or None where no distribution is configured (local play, tests).
    Blocking: call in a thread. Raises when CloudFront refuses (the caller keeps the work
    pending, to be retried)."""
    if not settings.cdn_distribution_parameter:
        return None
    distribution = read_parameter(settings.cdn_distribution_parameter)
    answer = aws_client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"{int(time.time())}-{uuid.uuid4().hex}",
        },
    )
    return answer["Invalidation"]["Id"]
