"""A Lambda context object for handlers invoked outside Lambda."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 25  # as deployed


@dataclass
class LocalContext:
    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _deadline: float = field(default_factory=lambda: time.monotonic() + TIMEOUT_SECONDS)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
