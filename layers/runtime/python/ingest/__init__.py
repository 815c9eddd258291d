"""Ingest API shared runtime: catalog, pipeline, families, storage. Shipped as a Lambda layer."""
