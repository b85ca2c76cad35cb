"""lion.services."""
