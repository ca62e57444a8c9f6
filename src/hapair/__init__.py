"""hapair: a two-node high-availability web cluster from one spec."""

__version__ = "0.1.0"
