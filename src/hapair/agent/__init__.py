"""The per-node agent: tells keepalived whether this node may hold the VIP."""
