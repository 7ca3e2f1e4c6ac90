"""Ingest: MQTT messages from the fleet into storage, exactly once, with domain hooks."""
