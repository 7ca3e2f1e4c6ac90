"""Interventions: rules over events, dedupe, lifecycle, SLA, assignment (pure domain, no I/O).

Storage lives in ``coordinator.storage.interventions``; the ingest hook and the periodic jobs
in :mod:`coordinator.dispatch` (application services, jobs, the notification worker).
"""
