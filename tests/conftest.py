"""Shared test configuration: Hypothesis example counts scale with LION_EXAMPLES."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "lion",
    max_examples=int(os.environ.get("LION_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("lion")
