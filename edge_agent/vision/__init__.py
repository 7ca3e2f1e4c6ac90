"""Vision subsystem of the edge agent: frames in, small typed events out; no image leaves the box."""
