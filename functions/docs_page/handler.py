"""GET /docs — the human documentation page (no key)."""

from ingest import catalog
from ingest.observability import logger, metrics, tracer
from ingest.pipeline import Pipeline

pipeline = Pipeline(catalog.get("docs_page"))


@logger.inject_lambda_context(clear_state=True, log_event=False)  # events carry API keys
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context) -> dict:
    return pipeline.handle(event, context)
