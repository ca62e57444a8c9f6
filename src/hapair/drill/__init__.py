"""Drills: a booking workload through the VIP, faults at chosen moments, an
independent checker of the history against every node's final data."""
