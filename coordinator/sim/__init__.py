"""``vigie-coordinator simulate city``: the whole métropole on one machine, every box a real edge-agent box."""
