"""Put tests/ on sys.path so ``fake_exchange`` imports when only tests/ccxt is collected."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
