"""Lambda REQUEST authorizer in front of every route (one API Gateway authorizer per family).

The entry point is `authorize`, not `lambda_handler`: this function is not a catalog route.
"""

from ingest.authorizer import EdgeAuthorizer
from ingest.observability import logger

authorizer = EdgeAuthorizer()


# log_event stays off whatever the environment says: the event carries the caller's key.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def authorize(event: dict, context) -> dict:
    return authorizer.authorize(event)
