"""An AgentDojo-style prompt-injection suite for the gate (issue 13's "Measure").

tasks.py holds the types, the host's plan and policies; workspace.py,
banking.py, slack.py and travel.py the environments; run.py replays honest
and fully hijacked trajectories through a Session (`python -m
benchmarks.injection.run`, or `python -m benchmarks injection` for the
benchmark rows).
"""
