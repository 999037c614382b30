"""Job ids: a slug of the job's name plus six random hex digits (``sma-btc-3f9a1c``).

A module of its own so that a sweep's parent process can name its sweep without
importing the job manager and the engine behind it (bench/optimize_speed.py).
"""

from __future__ import annotations

import re
import uuid


def new_job_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "job"
    return f"{slug}-{uuid.uuid4().hex[:6]}"
