"""Trials as Ray tasks, for when one machine is not enough (``--ray ADDRESS``).

The candles go into Ray's object store once; every task receives the same object, which
Ray hands to workers as read-only numpy arrays without copying them again. Custom plugins
travel as the job's ``working_dir``, so every node runs the same strategy code. Ray is
optional: ``pip install 'ats[distributed]'``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ats.data.candles import CandleData
from ats.exceptions import ConfigError
from ats.research.trial import TrialResult, TrialTask, run_trial
from ats.trading_job.job_config import JobConfig
from ats.utils.plugins import PluginLoader

_COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


@functools.lru_cache(maxsize=4)
def _base(base_json: str) -> JobConfig:
    return JobConfig.model_validate_json(base_json)


@functools.lru_cache(maxsize=4)
def _loader(custom_root: str) -> PluginLoader:
    return PluginLoader(custom_root)


def ray_trial(candles: dict[str, Any], base_json: str, task: TrialTask) -> TrialResult:
    """The Ray task: one trial on the shared candles (the worker's cwd holds the plugins
    shipped as ``working_dir``, if any)."""
    data = CandleData(
        path=Path(candles["path"]),
        timeframe_ms=candles["timeframe_ms"],
        **{name: candles[name] for name in _COLUMNS},
    )
    loader = _loader(str(Path.cwd())) if candles["custom"] else _loader("custom_modules")
    return run_trial(_base(base_json), data, task, loader)


class RayExecutor:
    """A :class:`~ats.research.executor.TrialExecutor` on a Ray cluster."""

    def __init__(
        self, base: JobConfig, data: CandleData, *, address: str, custom_root: Path
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--ray needs Ray: pip install 'ats[distributed]' (on every machine)"
            ) from None
        custom = custom_root.is_dir() and any(custom_root.iterdir())
        runtime_env = {"working_dir": str(custom_root.resolve())} if custom else None
        try:
            ray.init(
                address=address,
                runtime_env=runtime_env,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=False,
            )
        except Exception as exc:  # connection, address, authentication: one line each
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--ray {address}: cannot connect: {reason}") from None
        self._ray = ray
        self.workers = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        self.description = f"Ray cluster at {address} ({self.workers} CPUs)"
        self.queued = None
        candles = {name: getattr(data, name) for name in _COLUMNS}
        candles.update(path=str(data.path), timeframe_ms=data.timeframe_ms, custom=custom)
        self._candles = ray.put(candles)
        self._base_json = base.model_dump_json()
        self._task = ray.remote(num_cpus=1, max_retries=2)(ray_trial)

    async def run(self, tasks: Sequence[TrialTask]) -> AsyncIterator[TrialResult]:
        refs = [self._task.remote(self._candles, self._base_json, task) for task in tasks]
        pending = [asyncio.wrap_future(ref.future()) for ref in refs]
        try:
            for finished in asyncio.as_completed(pending):
                try:
                    result = await finished
                except self._ray.exceptions.RayError as exc:  # e.g. no ats on a node
                    last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                    raise ConfigError(f"--ray: a trial failed on the cluster: {last}") from None
                yield result
        finally:
            for ref, future in zip(refs, pending, strict=True):
                if not future.done():
                    self._ray.cancel(ref)

    def close(self) -> None:
        self._ray.shutdown()
