"""The operator's side: asking the agents (status, switchover, pause, resume,
degrade). The CLI records intent; the agents act."""
