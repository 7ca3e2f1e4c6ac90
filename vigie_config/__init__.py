"""The box configuration: the deployment contract between the field boxes and the centre.

One YAML file per box (``firmware_configs/<box>.yaml``) says who the box is, where it stands, what it observes and
drives. The box runs from it (:mod:`edge_agent`); the centre seeds the fleet registry, computes the broker's ACLs
and names lighting groups from the very same files (:mod:`coordinator`). Like :mod:`vigie_wire` for the bytes on
the wire, this package is the one home of what both sides share: the pydantic models, the loader and its checks,
the JSON Schema generation, the names of lighting groups and commands, the calendar programs, and the topics a box
listens to. It imports neither side.
"""

from .box import BoxConfig
from .errors import ConfigError
from .link import BatchConfig, MqttConfig, OutboxConfig, TlsConfig
from .loader import config_hash, load_config

__all__ = [
    "BatchConfig",
    "BoxConfig",
    "ConfigError",
    "MqttConfig",
    "OutboxConfig",
    "TlsConfig",
    "config_hash",
    "load_config",
]
