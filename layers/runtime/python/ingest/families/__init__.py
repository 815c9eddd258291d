"""One module per endpoint family: its models, dedup key and response dialect (``FAMILY``)."""
