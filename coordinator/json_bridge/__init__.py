"""The opt-in keyed-JSON bridge (``vigie-coordinator bridge``): the contract's messages, readable without MessagePack.

See :mod:`.keyed` for the mapping (pure) and :mod:`.service` for the MQTT session around it.
"""
