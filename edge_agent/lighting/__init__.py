"""Lighting role of a box: luminaire drivers, astronomical clock, calendars, overrides, energy and faults."""
