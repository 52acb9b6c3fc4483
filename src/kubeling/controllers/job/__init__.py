"""The Job controller (`controller.py`, with its pure parts in `util.py`, `indexed.py` and
`backoff.py`) and the TTL-after-finished controller (`ttlafterfinished.py`), as upstream's
pkg/controller/job and pkg/controller/ttlafterfinished. The names below are the package's face."""

from .backoff import BackoffRecord, backoff_duration, new_backoff_record, remaining_backoff
from .controller import JobController, JobSettings
from .indexed import COMPLETION_INDEX_ANNOTATION, first_pending_indexes, format_indexes, parse_indexes
from .ttlafterfinished import TTLAfterFinishedController, ttl_remaining
from .util import (TRACKING_FINALIZER, ensure_condition, find_condition, finished_time, is_job_finished,
                   is_pod_failed, is_terminating, new_condition, past_backoff_limit_on_failure, pod_from_job,
                   want_active)

__all__ = [
    "BackoffRecord", "backoff_duration", "new_backoff_record", "remaining_backoff", "JobController", "JobSettings",
    "COMPLETION_INDEX_ANNOTATION", "first_pending_indexes", "format_indexes", "parse_indexes",
    "TTLAfterFinishedController", "ttl_remaining", "TRACKING_FINALIZER", "ensure_condition", "find_condition",
    "finished_time", "is_job_finished", "is_pod_failed", "is_terminating", "new_condition",
    "past_backoff_limit_on_failure", "pod_from_job", "want_active",
]
