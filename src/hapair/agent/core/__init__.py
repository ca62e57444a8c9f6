"""The agent's pure core: what it sees (view), learns and decides, and the
rules each decision rests on. No I/O here, however deep the imports go
(tests/unit/test_decide.py checks it)."""
