"""lion.kernel."""
