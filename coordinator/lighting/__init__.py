"""Lighting on the coordinator's side: group calendars, overrides, their acks, the luminaire inventory.

Pure modules (``commands``, ``calendars``, ``inventory``) take and return values; ``service`` stores and publishes,
``hooks`` reacts to acks inside the ingest transaction, ``jobs`` re-publishes what the broker did not take.
"""
