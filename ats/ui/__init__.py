"""The Textual console: the product's face.

It drives jobs only through :class:`~ats.trading_job.job_manager.JobManager` commands and
its event bus, and reads jobs through :mod:`ats.ui.job_view`, so nothing here knows how an
order gets filled.
"""
