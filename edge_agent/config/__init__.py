"""Box configuration: pydantic models per section, loaded and validated at start-up."""

from .box import BoxConfig
from .link import BatchConfig, MqttConfig, OutboxConfig, TlsConfig
from .loader import config_hash, load_config

__all__ = ["BatchConfig", "BoxConfig", "MqttConfig", "OutboxConfig", "TlsConfig", "config_hash", "load_config"]
