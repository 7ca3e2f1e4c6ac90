"""Vigie edge agent: one program for every field box (cameras, luminaires, or both).

Subsystems: :mod:`edge_agent.link` (MQTT session, birth/death, durable outbox, commands);
vision and lighting plug into the link through a narrow port.
"""

__version__ = "0.1.0"
