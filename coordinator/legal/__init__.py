"""Judicial requisitions (code de procédure pénale 60-1, 77-1-1, 99-3) as pure rules.

A designated agent records a request; a supervisor other than the requester approves or refuses
it; every step goes to the register (``coordinator.register``). The window asked for must still be
within the recordings' retention (at most 30 days, CSI L252-5): older footage no longer exists.
"""
