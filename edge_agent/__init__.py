"""Vigie edge agent: one program for every field box (cameras, luminaires, or both).

Subsystems: :mod:`edge_agent.link` (MQTT session, birth/death, durable outbox, commands),
:mod:`edge_agent.vision` (camera role) and :mod:`edge_agent.lighting` (light role). Roles reach
the link only through the narrow port of :mod:`edge_agent.ports`.
"""

__version__ = "0.1.0"
