"""Tests of lion.services: tools, models and the runtime built on them."""
