"""lion.spec."""
