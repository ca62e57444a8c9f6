"""The words every part of hapair shares about a cluster: a node's role and
condition, the status document an agent publishes, and the table that
explains it (the status page, `hapair status`, the drills). Pure: the agent,
the operator's tools and the drills import it; it imports none of them."""
