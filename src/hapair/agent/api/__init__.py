"""The agent's HTTP side: the server and its routes, the operator's
commands, the status document and page, a restore's stream."""
