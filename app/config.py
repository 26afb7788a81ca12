"""The demo's limits and defaults, as one typed dataclass (strict, like every config here).

Usage:

    from app.config import AppConfig
    cfg = AppConfig(max_upload_mb=20, concurrency_limit=1)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AppConfig:
    """Limits that keep one shared model responsive; defaults suit a CPU laptop."""

    max_upload_mb: float = 50.0  # larger uploads are refused (by Gradio and by our own check)
    max_duration_s: float = 300.0  # longer clips are refused with a readable message
    concurrency_limit: int = 1  # answers generated at the same time (the model is shared)
    max_queue: int = 16  # requests waiting beyond this are refused by the queue
    max_new_tokens: int = 64  # default of the "max new tokens" slider
    max_fps: float = 30.0  # upper end of the frame-rate slider
    cache_cleanup_s: int = 3600  # uploaded files and rendered frames older than this are deleted

    def __post_init__(self) -> None:
        if self.max_upload_mb <= 0:
            raise ValueError("max_upload_mb must be > 0")
        if self.max_duration_s <= 0:
            raise ValueError("max_duration_s must be > 0")
        if self.concurrency_limit < 1:
            raise ValueError("concurrency_limit must be >= 1")
        if self.max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.max_fps <= 0:
            raise ValueError("max_fps must be > 0")
        if self.cache_cleanup_s < 1:
            raise ValueError("cache_cleanup_s must be >= 1")
