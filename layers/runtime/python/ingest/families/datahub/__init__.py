"""datahub family package."""
