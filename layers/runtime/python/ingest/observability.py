"""Powertools logger, metrics and tracer shared by every handler (one of each per process)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "ingest-api"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="IngestApi", service=SERVICE)
tracer = Tracer(service=SERVICE)
