"""Jobs that survive restarts: snapshot files, their integrity checks and encoding, the
saved_states directory lock, and :class:`~ats.persistence.persistent_jobs.PersistentJobs`,
which ties them to a JobManager and its journal (:mod:`ats.database`).

Layering: this package sits above the engine (``ats.exchanges``, ``ats.trading_job``) and
the journal (``ats.database``); none of those imports it (tests/e2e/test_architecture.py).
"""
