"""The street-lighting cabinet on Modbus TCP: register maps as data (``maps/``), the link, and the cabinet.

Modules are imported by path (``.registers``, ``.link``, ``.cabinet``) rather than re-exported here, because the
box config's models import the register maps while the cabinet imports those models.
"""
