"""Analytics: traffic counts, occupancy and lighting energy, aggregated from what ingest stores (pure values).

``counts`` and ``energy`` turn newly stored events and telemetry into additive aggregate rows; ``hooks`` writes them
in the ingest transaction; ``buckets`` serves the API's minute / hour / day windows.
"""
