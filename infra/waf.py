"""The optional WAF web ACL (``edge.waf`` in cdk.json, on in prod) on every family's stage.

* AWS managed rule groups: the Amazon IP reputation list, the core rule set and known bad inputs.
  Their rules that inspect the *body* only count (never block): bodies are customer events (log
  lines may well quote "<script>", "../../etc/passwd" or a Log4Shell string) that the service stores
  as bytes and never interprets, ingestion bodies are far over the core set's 8 KB
  ``SizeRestrictions_BODY``, and a block would refuse data a client may not be able to resend. The
  rules on the URI, query string, headers and cookies block as AWS ships them, except
  ``NoUserAgent_HEADER``: machine clients need not send a User-Agent.
* A rate rule per source IP, and one per API key: keys are presented in the family's credential
  header (``AuthScheme.header``; one rule per distinct header, as a request missing a custom key's
  header is not counted by that rule). A key over ``key_requests_per_window`` is blocked while its
  rate stays over it, so one tenant's flood cannot use up the stage throttle all tenants of the
  family share (``EnvConfig`` checks the limit is below the stage's rate).
* A block answers WAF_FILTERED, which each API renders in its dialect (``infra.edge``): 429 with
  Retry-After and X-Request-Id. No custom WAF responses: they would take precedence over the
  gateway response and lose both.
* Sampled requests are off on every rule: WAF keeps sampled requests with their headers, which
  carry the API keys. CloudWatch metrics stay on (counts only).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct
from ingest import catalog

from infra.config import EnvConfig

# (vendor, group, rules that only count, why) in priority order.
MANAGED_RULE_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("AWS", "AWSManagedRulesAmazonIpReputationList", ()),
    ("AWS", "AWSManagedRulesCommonRuleSet", (
        "SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY", "GenericRFI_BODY",
        "EC2MetaDataSSRF_BODY", "NoUserAgent_HEADER",
    )),
    ("AWS", "AWSManagedRulesKnownBadInputsRuleSet", ("Log4JRCE_BODY", "JavaDeserializationRCE_BODY")),
)


def credential_headers() -> tuple[str, ...]:
    """The distinct credential headers of the catalog's families (lower case), sorted."""
    return tuple(sorted({endpoint.auth.header_key for endpoint in catalog.ENDPOINTS if endpoint.auth}))


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=False
    )


def _managed_rules() -> list[wafv2.CfnWebACL.RuleProperty]:
    rules = []
    for priority, (vendor, group, counted) in enumerate(MANAGED_RULE_GROUPS):
        rules.append(wafv2.CfnWebACL.RuleProperty(
            name=group,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name=vendor,
                    name=group,
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                        )
                        for rule in counted
                    ] or None,
                )
            ),
            visibility_config=_visibility(group),
        ))
    return rules


CustomKey = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty


def _rate_rule(name: str, priority: int, limit: int, window: int,
               custom_keys: list[CustomKey] | None) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                evaluation_window_sec=window,
                aggregate_key_type="CUSTOM_KEYS" if custom_keys else "IP",
                custom_keys=custom_keys,
            )
        ),
        visibility_config=_visibility(name),
    )


def _rate_rules(config: EnvConfig, first_priority: int) -> list[wafv2.CfnWebACL.RuleProperty]:
    edge = config.edge
    rules = [_rate_rule("RatePerIp", first_priority, edge.ip_requests_per_window, edge.window_seconds, None)]
    for offset, header in enumerate(credential_headers(), start=1):
        key = CustomKey(
            header=wafv2.CfnWebACL.RateLimitHeaderProperty(
                name=header, text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
            )
        )
        name = "RatePerKey" + "".join(part.capitalize() for part in header.split("-"))
        limit, window = edge.key_requests_per_window, edge.window_seconds
        rules.append(_rate_rule(name, first_priority + offset, limit, window, [key]))
    return rules


class EdgeFirewall(Construct):
    """One regional web ACL, associated with each family API's stage."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        managed = _managed_rules()
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"ingest-api-{config.name}",
            description="Ingest API edge - AWS managed rules, body rules count only, and per-IP and per-key rate rules",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=managed + _rate_rules(config, len(managed)),
            visibility_config=_visibility(f"ingest-api-{config.name}"),
        )

    def protect(self, apis: Iterable[apigateway.RestApi]) -> None:
        for api in apis:
            stage = api.deployment_stage
            association = wafv2.CfnWebACLAssociation(
                self, f"{api.node.id}Association",
                resource_arn=stage.stage_arn,
                web_acl_arn=self.web_acl.attr_arn,
            )
            association.node.add_dependency(stage)
