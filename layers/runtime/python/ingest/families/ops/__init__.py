"""ops family package."""
