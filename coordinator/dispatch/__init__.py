"""Interventions at work: the application services that tie the pure domain
(``coordinator.interventions``) to storage, the ingest hook and timer jobs that raise
interventions, and the notification worker that reaches field teams over MQTT and webhooks.
"""
