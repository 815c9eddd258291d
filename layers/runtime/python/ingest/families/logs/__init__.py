"""logs family package."""
