"""The Textual console: the product's face.

It keeps job ids, draws the read model's views (:mod:`ats.trading_job.views`, formatted by
:mod:`ats.ui.job_view`) and sends commands, all through one
:class:`~ats.trading_job.control.JobControl` (``AtsApp.control``), so nothing here knows
how an order gets filled, and the same screens can drive a job manager in another
process. Only ``app.py`` and ``launch.py`` see the JobManager, to build that control and
to own the process's life cycle.
"""
