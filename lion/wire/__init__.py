"""lion.wire."""
