"""``ats web``: the console in a browser, for an ssh tunnel.

textual-serve runs ``ats attach`` (the very same console, one UI code path) for every
browser tab that connects, and relays its screen over a WebSocket; the console drives the
running ATS through its control API like any attached console. Served on 127.0.0.1 and
protected by the control API's token (:mod:`ats.web.console_server`).
"""
