"""Vigie coordinator: ingest, fleet, lighting and interventions behind an HTTP API."""

__version__ = "0.1.0"
