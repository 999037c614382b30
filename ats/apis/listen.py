"""Where the control API listens, and who may connect (no aiohttp here: binding happens
before the console starts, serving later; see :mod:`ats.apis.server`).

- Always: a unix socket in the state directory (``<saved_states>/ats.sock``), mode 0600
  from its first instant, so only the user running ATS can connect; no token (the
  file mode is the check).
- Optionally: TCP (``--api-port``), on 127.0.0.1 unless ``--api-host`` says otherwise.
  TCP always needs ``ATS_API_TOKEN`` (from the environment or ``.env``) and refuses to
  start without one; a non-loopback host also needs ``--api-allow-remote``.

Sockets are bound synchronously, so a bad option or a busy port is one line on stderr
(exit 2) before the console takes over the terminal. A unix socket that cannot be bound
(a state directory path too long for one) is a warning: the jobs run without it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ats.exceptions import ConfigError

if TYPE_CHECKING:
    from ats.utils.settings import Settings

SOCKET_NAME = "ats.sock"
MIN_TOKEN_LENGTH = 16
MAX_SOCKET_PATH = 107
"""Bytes in a unix socket's path (Linux's sun_path, less its final NUL)."""


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """The command line's API flags."""

    port: int | None = None
    host: str = "127.0.0.1"
    allow_remote: bool = False


def socket_path(settings: Settings) -> Path:
    return settings.saved_states_dir / SOCKET_NAME


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_tcp(options: ApiOptions, token: str | None) -> str:
    """The token TCP will require; ConfigError (one line) when TCP must not start."""
    if not token:
        raise ConfigError(
            "--api-port needs a bearer token: set ATS_API_TOKEN in the environment or .env "
            "(the control API is never served over TCP without one)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"ATS_API_TOKEN is too short (at least {MIN_TOKEN_LENGTH} characters)")
    if not is_loopback(options.host) and not options.allow_remote:
        raise ConfigError(
            f"--api-host {options.host} is not a loopback address: anyone who can reach it "
            "could try the token; add --api-allow-remote if that is what you want"
        )
    if options.port is not None and not 0 <= options.port <= 65535:
        raise ConfigError(f"--api-port: {options.port} is not a port number")
    return token


@dataclass
class Listening:
    """Bound, listening sockets waiting to be served; ``token`` guards the TCP one."""

    socket_file: Path | None
    token: str | None = None
    sockets: list[socket.socket] = field(default_factory=list)
    tcp_address: tuple[str, int] | None = None
    socket_error: str | None = None
    """Why there is no unix socket (one line): the jobs run anyway, without ``ats
    attach``; the process's front end says so."""

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        if self.socket_file is not None:
            with contextlib.suppress(OSError):
                self.socket_file.unlink()


def bind(
    socket_file: Path | None, options: ApiOptions | None = None, token: str | None = None
) -> Listening:
    """Take the socket (and the TCP port) now; ConfigError in one line if they cannot be."""
    options = options or ApiOptions()
    checked = check_tcp(options, token) if options.port is not None else None
    listening = Listening(socket_file, checked)
    if socket_file is not None:
        try:
            listening.sockets.append(_unix_socket(socket_file))
        except OSError as exc:
            listening.socket_file = None
            listening.socket_error = (
                f"control API: cannot listen on {socket_file}: {exc.strerror or exc}"
                "; 'ats attach' and 'ats jobs' cannot reach this process"
            )
    try:
        if options.port is not None:
            tcp = socket.create_server((options.host, options.port))
            listening.tcp_address = tcp.getsockname()[:2]
            listening.sockets.append(tcp)
    except OSError as exc:
        listening.close()
        where = f"{options.host}:{options.port}"
        raise ConfigError(f"control API: cannot listen on {where}: {exc.strerror or exc}") from None
    return listening


def bind_for(settings: Settings, options: ApiOptions | None = None) -> Listening:
    """:func:`bind` for the process holding ``settings``' state directory."""
    from ats.utils.redaction import register_secret

    token = settings.api_token.get_secret_value() if settings.api_token else None
    if token:
        register_secret(token)  # masked in every log line and answer
    return bind(socket_path(settings), options, token)


def _unix_socket(path: Path) -> socket.socket:
    """Bound with mode 0600 from its first instant (the umask covers the bind)."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise OSError(
            f"the path is longer than a unix socket's {MAX_SOCKET_PATH} bytes (set "
            "ATS_SAVED_STATES_DIR to a shorter directory)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if serving(path):  # never take the socket of a process that serves it
        raise OSError(f"another ATS process serves {path}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a process that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def serving(path: Path) -> bool:
    """Something listens on the unix socket at ``path``."""
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
