"""Converging nodes to the rendered state over SSH (pyinfra)."""
