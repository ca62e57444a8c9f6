"""Probes: a command to run on a node, and a pure parser of its output."""
