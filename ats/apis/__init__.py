"""The control API: a job manager's JobControl served over HTTP+JSON, and its client.

Every process that runs jobs (the console, ``ats --no-ui``) serves its
:class:`~ats.trading_job.control.JobControl` on a unix socket in the state directory
(and optionally on TCP with a bearer token), in its own event loop:

- :mod:`ats.apis.operations`: the one table mapping each JobControl query and command
  to a ``/api/v1/...`` route, its arguments and its answer's type; the server, the
  client and the OpenAPI document are all generated from it;
- :mod:`ats.apis.wire`: answers, errors and change summaries as JSON;
- :mod:`ats.apis.routes`: the aiohttp application (routes, limits, auth);
- :mod:`ats.apis.events`: the WebSocket event stream (coalesced ``Changes``);
- :mod:`ats.apis.listen`: where it listens (socket 0600, TCP + token), bound early;
- :mod:`ats.apis.server`: serving those sockets, with connection limits;
- :mod:`ats.apis.remote_control`: :class:`RemoteJobControl`, the same JobControl on
  the client side, which ``ats attach`` and ``ats jobs`` use;
- :mod:`ats.apis.attach`: ``ats attach``, the same console on a running process.

aiohttp is imported only here (once serving starts), never by ``ats --help`` or the engine.
"""
