"""Errors ATS raises on purpose. Each carries a one-line message naming what is wrong."""


class ATSError(Exception):
    """Base of every error ATS raises deliberately; the CLI prints these as one line."""


class ConfigError(ATSError):
    """A job config (YAML) or command-line option is invalid."""


class PluginError(ATSError):
    """A plugin is unknown, or its module is broken (syntax error, missing class, wrong base)."""


class UnknownPlugin(PluginError):
    """No custom module and no built-in has this name (the config field names it)."""


class DataError(ATSError):
    """Market data is unreadable or inconsistent."""


class ExchangeRefused(ATSError):
    """The exchange refused a request in a way retrying cannot fix (HTTP 400/401/403/404:
    a wrong url, an endpoint the host does not serve, a firewall block)."""


class OrderError(ATSError):
    """An order request is malformed (bad amount, missing price, unknown symbol)."""


class InsufficientFunds(OrderError):
    """The wallet's free balance cannot cover an order."""


class JobError(ATSError):
    """A job command cannot be carried out in the job's current state."""


class StateError(ATSError):
    """Saved state is corrupt, truncated, from an unknown version, or fails validation."""


def naming(exc: ATSError, source: str) -> ATSError:
    """The same error with ``source`` (a config file, a job) in front, once:
    ``fees.rate: …`` from ``job.yaml`` becomes ``job.yaml: fees.rate: …``."""
    text = str(exc)
    if text.startswith((f"{source}:", f"{source} ")):
        return exc
    try:
        return type(exc)(f"{source}: {text}")
    except TypeError:  # a subclass taking other arguments
        return ATSError(f"{source}: {text}")
