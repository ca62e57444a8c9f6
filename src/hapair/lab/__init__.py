"""A lab of real machines on one host: networks, machines, faults."""
