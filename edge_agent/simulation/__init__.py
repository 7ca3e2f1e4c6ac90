"""Many real boxes in one process, and the field gear they talk to, simulated: the demo's district and the city.

Each hosted box is an :class:`~edge_agent.agent.Agent` built from its config file (its own MQTT session, outbox,
birth and death, lighting engine and meter); only the field is simulated (luminaires, presence sensors' passers-by,
cameras' recorded event mix, Modbus cabinets). The coordinator's ``demo`` and ``simulate city`` commands start
these hosts as child processes by module name and never import them:

* :mod:`.district_main` (:mod:`.fleet_sim`): the demo's simulated district;
* :mod:`.cabinet_main` (:mod:`.cabinet_sim`): the Modbus cabinet behind one of the demo's committed boxes;
* :mod:`.city_host_main` (:mod:`.city_host`): a slice of the city's boxes.

Which boxes exist and their configs are pure, shared functions of :mod:`vigie_config.metropole`.
"""
