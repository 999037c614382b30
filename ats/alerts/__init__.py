"""Alerts: fills, errors, status changes, the kill switch, bans and reconnects, and an
optional daily summary, sent to the user's channels (Telegram, Discord, e-mail, JSON/HTTP
endpoints...) through apprise.

Like the journal and the headless printer, alerts are a subscriber of the JobManager's
event bus: they never touch a job. Events become lines (:mod:`ats.alerts.compose`),
lines are batched and rate-limited into messages, and messages are delivered by one
worker thread with a bounded queue and timeouts (:mod:`ats.alerts.delivery`), so a
channel that fails or hangs never slows or stops a job. Configured in ``.env``
(``ATS_ALERT_*``, :mod:`ats.alerts.config`); nothing here is imported while
``ATS_ALERT_URLS`` is empty.
"""
