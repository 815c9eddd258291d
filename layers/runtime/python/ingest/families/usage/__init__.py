"""usage family package."""
