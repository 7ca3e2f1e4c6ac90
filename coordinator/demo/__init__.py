"""``vigie-coordinator demo``: the whole product on one machine, in one command.

The runner (:mod:`coordinator.demo.run`) hosts real boxes, so it is not imported here: the pure district
generator (:mod:`coordinator.demo.district`) stays importable without loading any box code.
"""
