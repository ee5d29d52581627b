"""Checks across keys that AWS would otherwise make at `pulumi up`, or at an instance launch that
`pulumi up` never waits for: alarm actions per alarm, IOPS per GiB, and ARNs in another region
than the stack's. The limits and their sources live in components/aws_limits.py.
"""

from __future__ import annotations

from components import aws_limits
from components.settings.model import ClusterSettings
from components.settings.reader import full_key
from components.settings.trino import catalog_secret_arns


def limit_problems(settings: ClusterSettings) -> list[str]:
    """Every problem of an otherwise well-formed stack that AWS would refuse; each names its key."""
    return [*_alarm_problems(settings), *_iops_problems(settings), *_region_problems(settings)]


def _alarm_problems(settings: ClusterSettings) -> list[str]:
    arns = settings.monitoring.alarm_topic_arns
    limit = aws_limits.ALARM_ACTIONS
    if len(arns) <= limit.value:
        return []
    return [
        f"{full_key('alarmTopicArns')}: {len(arns)} topics, but CloudWatch allows at most {limit.value} "
        f"{limit.what} ({limit.source}); fan out through one SNS topic instead"
    ]


def _iops_problems(settings: ClusterSettings) -> list[str]:
    volume = settings.volume
    if volume.iops is None:
        return []
    ratio = aws_limits.EBS_IOPS_PER_GIB[volume.type]
    most = volume.size_gb * ratio.value
    if volume.iops <= most:
        return []
    smallest = -(-volume.iops // ratio.value)
    return [
        f"{full_key('rootVolumeIops')}: {volume.iops} IOPS on a {volume.size_gb} GiB {volume.type} volume "
        f"is more than {ratio.value} {ratio.what} (at most {most}; {ratio.source}); EC2 would refuse "
        f"every instance at launch: lower it or raise {full_key('rootVolumeSizeGb')} to at least {smallest}"
    ]


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _region_problems(settings: ClusterSettings) -> list[str]:
    """KMS keys, secrets and topics must be in the stack's region: the nodes, functions and alarms
    that use them are, and these services do not reach across regions."""
    security = settings.security
    es = settings.elasticsearch
    arns: list[tuple[str, str]] = [
        ("kmsKeyArn", settings.volume.kms_key_arn or ""),
        ("tlsCertificateSecretArn", security.certificate_secret_arn or ""),
        ("passwordFileSecretArn", security.password_file_secret_arn or ""),
        ("elasticsearchPasswordSecretArn", (es.password_secret_arn or "") if es else ""),
        *(("alarmTopicArns", arn) for arn in settings.monitoring.alarm_topic_arns),
        *(("catalogs", arn) for arn in catalog_secret_arns(settings.trino.catalogs)),
    ]
    return [
        f"{full_key(key)}: {arn!r} is in {arn_region(arn)}, but the stack deploys to {settings.region} "
        f"(aws:region); use one in {settings.region}"
        for key, arn in arns
        if arn and settings.region and arn_region(arn) != settings.region
    ]
