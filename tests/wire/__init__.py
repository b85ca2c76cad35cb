"""Tests of lion.wire: units, a misbehaving fault server, and a real llama.cpp server."""
