"""Fleet: what the registry says about the boxes, summarised for operators and technicians (pure values)."""

from .health import SILENT_AFTER_MS, Device, FleetHealth, SilentDevice, health_summary
from .map import MAP_ROLES, MAP_STATUSES, MapLayer, MapPoint, map_layer

__all__ = [
    "MAP_ROLES",
    "MAP_STATUSES",
    "SILENT_AFTER_MS",
    "Device",
    "FleetHealth",
    "MapLayer",
    "MapPoint",
    "SilentDevice",
    "health_summary",
    "map_layer",
]
