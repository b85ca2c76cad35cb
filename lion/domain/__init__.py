"""lion.domain."""
