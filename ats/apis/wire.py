"""What crosses the control API, as JSON: arguments, answers, errors, change summaries.

Answers are the JSON of a JobControl method's return value, by pydantic (views are
frozen dataclasses, the job config a pydantic model), read back into the same types on
the client. Errors are ``{"error": "<ATSError subclass>", "message": "<one line>"}``
and become that exception again on the client, so a front end shows the same line in
either case. Every body goes through :func:`~ats.utils.redaction.redact` on its way out:
a secret that leaked into a message is masked here as in the log. A job config comes
back from a front end with those masks where it left them (an edit that changed
something else): :func:`unmask_config` puts the stored values back, in this process.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

import ats.exceptions as ats_exceptions
from ats.apis.operations import Operation
from ats.exceptions import ATSError
from ats.trading_job.change_feed import Changes
from ats.trading_job.events import JobStatusChanged
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.utils.redaction import redact, scrub_config, secrets_registered
from ats.utils.validation import format_validation_error, one_line


class BadRequest(ATSError):
    """The request is malformed (bad JSON, a missing or mistyped argument): HTTP 400."""


class ApiUnavailable(ATSError):
    """The control API cannot be reached or answered with something unexpected."""


@functools.cache
def answer_adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


@functools.cache
def arguments_model(operation: Operation, with_path: bool = False) -> type[BaseModel]:
    """The query and body arguments of ``operation`` (and its path ones with
    ``with_path``: a path's ``/trials/3`` is then the int 3 the JobControl method takes)."""
    fields: dict[str, Any] = {
        param.name: (param.type, param.default)
        for param in operation.params
        if with_path or param.where != "path"
    }
    model: type[BaseModel] = create_model(
        f"{operation.name}_arguments",
        __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
        **fields,
    )
    return model


def parse_arguments(operation: Operation, raw: dict[str, Any]) -> dict[str, Any]:
    """Validated keyword arguments for the JobControl method (``raw`` has the path's
    too); BadRequest naming the field."""
    try:
        parsed = arguments_model(operation, with_path=True).model_validate(raw)
    except ValidationError as exc:
        raise BadRequest(format_validation_error(exc)) from None
    return {name: getattr(parsed, name) for name in type(parsed).model_fields}


def dump_answer(operation: Operation, value: Any) -> bytes:
    """The answer's JSON; a job config with literal credentials in its params (instead
    of the name of an environment setting) has them masked, as in its snapshot."""
    if isinstance(value, BaseModel):  # the job config: the one model answer
        scrubbed, _masked = scrub_config(value.model_dump(mode="json"))
        return safe(json.dumps(scrubbed).encode())
    return safe(answer_adapter(operation.returns).dump_json(value))


def unmask_config(submitted: JobConfig, stored: JobConfig) -> JobConfig:
    """``submitted`` (an edit of ``stored`` made from the masked config this API answered
    with) where every value still equal to what the client was shown in place of a
    credential is the stored value again: a mask sent back means "keep it", a new value
    replaces it. The credential itself never crossed the API."""
    stored_raw = stored.model_dump(mode="json")
    shown, _masked = scrub_config(stored_raw)
    raw = submitted.model_dump(mode="json")
    restored = _unmask(raw, shown, stored_raw)
    return submitted if restored == raw else parse_job_config(restored, source="config")


def _unmask(value: Any, shown: Any, stored: Any) -> Any:
    if isinstance(value, dict) and isinstance(shown, dict) and isinstance(stored, dict):
        return {
            key: _unmask(item, shown.get(key), stored.get(key)) if key in stored else item
            for key, item in value.items()
        }
    if isinstance(value, list) and isinstance(shown, list) and isinstance(stored, list):
        if len(value) == len(shown) == len(stored):
            return [_unmask(*items) for items in zip(value, shown, stored, strict=True)]
        return value
    if isinstance(value, str) and value == shown and shown != stored:
        return stored  # masked when shown and sent back unchanged
    return value


def load_answer(operation: Operation, data: bytes) -> Any:
    try:
        return answer_adapter(operation.returns).validate_json(data)
    except ValidationError as exc:
        raise ApiUnavailable(
            f"unexpected answer to {operation.name}: {format_validation_error(exc)}"
        ) from None


def dump_error(exc: BaseException) -> bytes:
    name = type(exc).__name__ if isinstance(exc, ATSError) else "ATSError"
    return safe(json.dumps({"error": name, "message": one_line(str(exc))}).encode())


def load_error(status: int, data: bytes) -> ATSError:
    """The exception the server raised, by class name (ATSError when unknown)."""
    try:
        body = json.loads(data)
        name, message = str(body["error"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return ApiUnavailable(f"HTTP {status}: {one_line(data.decode(errors='replace'))}")
    kind = getattr(ats_exceptions, name, None)
    if name == "BadRequest":
        kind = BadRequest
    if not (isinstance(kind, type) and issubclass(kind, ATSError)):
        kind = ATSError
    try:
        return kind(message)
    except TypeError:
        return ATSError(message)


def safe(body: bytes) -> bytes:
    """``body`` with registered secrets masked."""
    if not secrets_registered():
        return body
    return redact(body.decode()).encode()


# -- change summaries ---------------------------------------------------------------------
_SETS = ("rows", "statuses", "candles", "account", "reports", "removed", "logs")


def dump_changes(changes: Changes) -> str:
    body: dict[str, Any] = {name: sorted(getattr(changes, name)) for name in _SETS}
    body["structure"] = changes.structure
    body["resync"] = changes.resync
    body["status_events"] = [
        [event.job_id, str(event.status), event.error] for event in changes.status_events
    ]
    return safe(json.dumps(body).encode()).decode()


def load_changes(text: str | bytes) -> Changes:
    body = json.loads(text)
    changes = Changes(structure=bool(body["structure"]), resync=bool(body["resync"]))
    for name in _SETS:
        getattr(changes, name).update(str(job_id) for job_id in body[name])
    events = body["status_events"]
    changes.status_events = deque(
        (JobStatusChanged(job_id, status, error) for job_id, status, error in events),
        maxlen=changes.status_events.maxlen,
    )
    return changes
