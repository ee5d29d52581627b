"""What a node reads at boot, computed from the cluster settings: a value, not a resource.

Pure, so the program calls it under `Output.apply` once the coordinator address and the secret
ARNs are known, and the rehearsal (`make rehearse`) calls it with local values to boot the same
configuration on one machine. Secrets appear only as Secrets Manager ARNs.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.settings.model import ClusterSettings
from node_agent.contract import ElasticsearchSettings, NodeSettings, TlsSettings

# The S3 file system that replaced Hadoop's in Trino; older releases use the legacy one, which
# also reads the instance profile by default and needs no properties here.
NATIVE_S3_SINCE = 440
# PrestoSQL named the Hive connector hive-hadoop2; Trino accepts plain `hive`.
HIVE_CONNECTOR_RENAMED = 359


def metastore_catalog(settings: ClusterSettings, region: str) -> dict[str, str] | None:
    """The `hive` catalog that the metastore key asks for, or None when it is off."""
    trino = settings.trino
    if trino.metastore == "none":
        return None
    connector = "hive" if trino.version >= HIVE_CONNECTOR_RENAMED else "hive-hadoop2"
    catalog = {"connector.name": connector}
    if trino.metastore == "hive":
        catalog["hive.metastore.uri"] = str(trino.hive_metastore_uri)
    else:
        catalog["hive.metastore"] = "glue"
        catalog["hive.metastore.glue.region"] = region
    if trino.version >= NATIVE_S3_SINCE:
        catalog["fs.native-s3.enabled"] = "true"
        catalog["s3.region"] = region
    return catalog


def node_settings(
    settings: ClusterSettings,
    *,
    coordinator_address: str,
    region: str,
    shared_secret_arn: str,
    lifecycle_hook_name: str = "",
    log_groups: Mapping[str, str] | None = None,
    management_password_secret_arn: str | None = None,
    elasticsearch_password_secret_arn: str | None = None,
) -> NodeSettings:
    """The NodeSettings every node of the cluster reads; the node's role comes from its env file."""
    catalogs = {name: dict(props) for name, props in settings.trino.catalogs.items()}
    hive = metastore_catalog(settings, region)
    if hive is not None:
        catalogs["hive"] = hive
    es = settings.elasticsearch
    security = settings.security
    return NodeSettings(
        cluster=settings.name,
        environment=settings.environment,
        region=region,
        trino_version=settings.trino.version,
        coordinator_address=coordinator_address,
        shared_secret_arn=shared_secret_arn,
        catalogs=catalogs,
        config_overrides=dict(settings.trino.config_overrides),
        spill_enabled=settings.trino.spill_enabled,
        retry_policy=settings.trino.retry_policy,
        exchange_bucket=settings.trino.exchange_bucket,
        max_drain_seconds=settings.lifecycle.max_drain_seconds,
        heartbeat_timeout_seconds=settings.lifecycle.heartbeat_timeout_seconds,
        lifecycle_hook_name=lifecycle_hook_name,
        log_groups=dict(log_groups or {}),
        fast_queue_metric=settings.scaling.fast_queue_metric,
        elasticsearch=None
        if es is None
        else ElasticsearchSettings(
            url=es.url,
            index_prefix=es.index_prefix,
            username=es.username,
            password_secret_arn=es.password_secret_arn or elasticsearch_password_secret_arn,
            ca_bundle=es.ca_bundle,
            backend=es.backend,
            aws_region=es.aws_region,
            retention_days=es.retention_days,
        ),
        tls=TlsSettings(
            enabled=security.tls,
            authentication=security.authentication,
            keystore_secret_arn=security.certificate_secret_arn,
            password_file_secret_arn=security.password_file_secret_arn,
            management_password_secret_arn=management_password_secret_arn,
            internal_https=False,
        ),
    )
