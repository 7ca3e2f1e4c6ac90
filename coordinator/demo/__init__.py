"""``vigie-coordinator demo``: the whole product on one machine, in one command.

The runner (:mod:`coordinator.demo.run`) starts a broker, the coordinator's processes and the boxes, each box and
field simulator a child process started by module name (:mod:`edge_agent.simulation`): the coordinator imports no
box code. The district's boxes come from :mod:`vigie_config.metropole.district`; the demo's teams and rules from
:mod:`.seed`.
"""
