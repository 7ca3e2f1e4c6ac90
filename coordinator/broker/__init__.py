"""The broker side of Vigie: the Mosquitto configuration the project ships and deploys."""

from .config import BrokerSettings, TlsListener, render_mosquitto_conf
from .process import LocalBroker, free_port

__all__ = ["BrokerSettings", "LocalBroker", "TlsListener", "free_port", "render_mosquitto_conf"]
