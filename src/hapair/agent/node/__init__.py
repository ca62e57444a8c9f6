"""The node's I/O for the agent: its database, services and addresses, the
peer's agent, the witness, fence devices, and the threads that watch them."""
