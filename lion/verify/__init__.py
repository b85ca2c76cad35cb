"""lion.verify."""
