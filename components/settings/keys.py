"""Every stack configuration key the program reads, with its documentation.

One table serves three readers: the parser (it refuses to read a key missing here, and reports a
key found in a stack file but not here as unknown, with the closest known name), the README's
"Stack configuration" section (a test checks that every key is documented there), and the
typo suggestions. Keeping them in one place is what stops the docs and the code from drifting.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "presto-on-aws"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# The longest an Auto Scaling lifecycle hook can hold an instance (AWS limit), in minutes.
MAX_DRAIN_MINUTES = 48 * 60

OLDEST_TRINO = 330  # PrestoSQL 330, what the original template ran
NEWEST_TRINO = 483
DEFAULT_TRINO = 476  # the newest release on Maven Central, so the newest the integration tests boot


@dataclass(frozen=True)
class ConfigKey:
    name: str  # without the "presto-on-aws:" namespace
    type: str
    default: str  # as the README shows it; "required" when there is none
    allowed: str
    example: str
    doc: str


KEYS: tuple[ConfigKey, ...] = (
    # --- identity ------------------------------------------------------------------------------
    ConfigKey(
        "clusterName",
        "string",
        "`trino-<stack>`",
        "3-21 of a-z 0-9 -, starts with a letter (longer names overflow generated AWS names)",
        "trino-prod",
        "Prefix of every resource name and value of the cluster tag.",
    ),
    ConfigKey(
        "environment",
        "string",
        "required",
        "a-z 0-9 _, starts with a letter or digit",
        "prod",
        "Trino's node.environment; also the Environment tag.",
    ),
    ConfigKey(
        "tags",
        "map string→string",
        "{}",
        "keys without the aws: / presto-on-aws: prefixes",
        "{team: data-platform}",
        "Extra tags on every taggable resource and launched instance.",
    ),
    # --- network -------------------------------------------------------------------------------
    ConfigKey("vpcId", "string", "required", "vpc-<hex>", "vpc-0a1b2c3d4e5f67890", "VPC of the cluster."),
    ConfigKey(
        "coordinatorSubnetId",
        "string",
        "required",
        "subnet-<hex>",
        "subnet-0a1b2c3d",
        "Subnet of both coordinators and of the fixed coordinator address (an ENI lives in one AZ).",
    ),
    ConfigKey(
        "workerSubnetIds",
        "list of strings",
        "required",
        "one or more subnet-<hex>",
        "[subnet-0a1b2c3d, subnet-1b2c3d4e]",
        "Subnets of the workers and of the two functions.",
    ),
    ConfigKey(
        "coordinatorPrivateIp",
        "string",
        "AWS picks one",
        "an IPv4 address inside coordinatorSubnetId",
        "10.0.1.10",
        "Fixed private IP of the coordinator address.",
    ),
    ConfigKey(
        "extraSecurityGroupIds",
        "list of strings",
        "[]",
        "sg-<hex>",
        "[sg-0a1b2c3d]",
        "Security groups added to every node (for example one that grants SSH).",
    ),
    ConfigKey(
        "clientCidrs",
        "list of strings",
        "[]",
        "IPv4 CIDRs; never 0.0.0.0/0",
        "[10.20.0.0/16]",
        "Networks whose clients may reach the coordinator's client port.",
    ),
    ConfigKey(
        "clientSecurityGroupIds",
        "list of strings",
        "[]",
        "sg-<hex>",
        "[sg-0feedbeef]",
        "Security groups whose members may reach the coordinator's client port.",
    ),
    ConfigKey(
        "metricsCidrs",
        "list of strings",
        "[]",
        "IPv4 CIDRs; never 0.0.0.0/0",
        "[10.30.0.0/24]",
        "Networks whose Prometheus may scrape every node's agent metrics port.",
    ),
    ConfigKey(
        "metricsSecurityGroupIds",
        "list of strings",
        "[]",
        "sg-<hex>",
        "[sg-0prometheus]",
        "Security groups whose members may scrape every node's agent metrics port.",
    ),
    ConfigKey(
        "keyName",
        "string",
        "none (use SSM Session Manager)",
        "an EC2 key pair name",
        "ops-2026",
        "EC2 key pair for SSH; no SSH port is opened, add a group via extraSecurityGroupIds.",
    ),
    # --- instances -----------------------------------------------------------------------------
    ConfigKey(
        "coordinatorInstanceType",
        "string",
        "m6i.xlarge",
        "an EC2 instance type",
        "r6i.2xlarge",
        "Instance type of the coordinators.",
    ),
    ConfigKey(
        "coordinatorCount",
        "integer",
        "2",
        "1 or 2",
        "2",
        "2 = an active and a standby coordinator behind the fixed address; 1 = no standby.",
    ),
    ConfigKey(
        "workerInstanceTypes",
        "list of strings",
        "[r6i.2xlarge]",
        "one or more EC2 instance types",
        "[r6i.4xlarge, r5.4xlarge]",
        "Worker instance types; more than one allows a mixed fleet.",
    ),
    ConfigKey("workerMinSize", "integer", "1", "0-1000, at most workerMaxSize", "4", "Fewest workers."),
    ConfigKey("workerMaxSize", "integer", "4", "1-1000, at least workerMinSize", "40", "Most workers."),
    ConfigKey(
        "workerDesiredCapacity",
        "integer",
        "workerMinSize",
        "workerMinSize..workerMaxSize",
        "6",
        "Workers at creation; afterwards the scaling policies own the number.",
    ),
    ConfigKey(
        "workerSpotPercentage",
        "integer",
        "0",
        "0-100",
        "70",
        "Share of workers above the on-demand base that run on spot (capacity rebalancing on).",
    ),
    ConfigKey(
        "workerOnDemandBaseCapacity",
        "integer",
        "0",
        "0..workerMaxSize",
        "2",
        "Workers that are always on-demand, whatever workerSpotPercentage says.",
    ),
    ConfigKey(
        "workerWarmPool",
        "integer",
        "0",
        "0..workerMaxSize; above 0 needs one workerInstanceTypes entry and workerSpotPercentage 0",
        "2",
        "Stopped, pre-initialised workers kept beside the group, so a scale-out starts one instead of "
        "launching one (0: no warm pool). A warmed worker never starts Trino (its agent reads the "
        "target lifecycle state `Warmed:*`); each costs only its volume while stopped.",
    ),
    # --- image and disks -----------------------------------------------------------------------
    ConfigKey(
        "trinoVersion",
        "integer",
        str(DEFAULT_TRINO),
        f"{OLDEST_TRINO}-{NEWEST_TRINO}",
        "476",
        "Trino release the cluster runs; the AMI lookup uses it too.",
    ),
    ConfigKey(
        "amiId",
        "string",
        "lookup by the trino-version tag",
        "ami-<hex>",
        "ami-0123456789abcdef0",
        "Exact AMI; without it the newest AMI owned by amiOwners tagged trino-version=<trinoVersion>.",
    ),
    ConfigKey(
        "amiOwners",
        "list of strings",
        "[self]",
        "self, amazon or 12-digit account ids",
        "[self]",
        "Owners searched by the AMI lookup.",
    ),
    ConfigKey(
        "rootVolumeSizeGb",
        "integer",
        "100",
        "20-16384",
        "200",
        "Root volume size (spill lands here when spillEnabled).",
    ),
    ConfigKey(
        "rootVolumeType", "string", "gp3", "gp3, io1, io2", "gp3", "Root volume type (always encrypted)."
    ),
    ConfigKey(
        "rootVolumeIops",
        "integer",
        "gp3: AWS default (3000); io1/io2: required",
        "gp3 3000-16000; io1 100-64000; io2 100-256000; at most 500 (gp3), 50 (io1) or 1000 (io2) per GiB",
        "6000",
        "Provisioned IOPS of the root volume.",
    ),
    ConfigKey(
        "kmsKeyArn",
        "string",
        "AWS-managed keys",
        "a KMS key ARN",
        "arn:aws:kms:eu-west-1:111122223333:key/…",
        "Customer-managed key for root volumes and the cluster's secrets.",
    ),
    # --- Trino ---------------------------------------------------------------------------------
    ConfigKey(
        "metastore",
        "string",
        "none",
        "none, hive, glue",
        "glue",
        "Adds a `hive` catalog backed by a Hive metastore (hiveMetastoreUri) or AWS Glue.",
    ),
    ConfigKey(
        "hiveMetastoreUri",
        "string",
        "required when metastore is hive",
        "thrift://host:port",
        "thrift://metastore.internal:9083",
        "Hive metastore of the `hive` catalog.",
    ),
    ConfigKey(
        "dataBuckets",
        "list of strings",
        "[]",
        "S3 bucket names",
        "[acme-lake]",
        "Buckets the nodes may read and write (the hive catalog's data); nothing else in S3 is granted.",
    ),
    ConfigKey(
        "catalogs",
        "map name→map property→value",
        "{}",
        "name: a-z 0-9 _; each needs connector.name",
        "{tpch: {connector.name: tpch}}",
        "Catalogs rendered into etc/catalog/<name>.properties.",
    ),
    ConfigKey(
        "configOverrides",
        "map property→value",
        "{}",
        "properties the Trino version accepts; not the ones the program manages",
        "{query.max-memory: 200GB}",
        "Extra config.properties entries.",
    ),
    ConfigKey("spillEnabled", "boolean", "false", "true, false", "true", "Spill to the root volume."),
    ConfigKey("retryPolicy", "string", "NONE", "NONE, QUERY, TASK", "TASK", "Fault-tolerant execution."),
    ConfigKey(
        "exchangeBucket",
        "string",
        "required when retryPolicy is TASK",
        "an S3 bucket name",
        "acme-trino-exchange",
        "Bucket of the exchange manager.",
    ),
    # --- Elasticsearch query log ---------------------------------------------------------------
    ConfigKey(
        "elasticsearchUrl",
        "string",
        "none (query log off)",
        "http(s)://host[:port], port defaults to 9200 (443 on *.amazonaws.com)",
        "https://search.internal:9200",
        "Where every completed query is indexed.",
    ),
    ConfigKey(
        "elasticsearchIndexPrefix",
        "string",
        "trino-queries",
        "lowercase a-z 0-9 . _ -",
        "trino-prod-queries",
        "Index name prefix of the query log.",
    ),
    ConfigKey("elasticsearchUsername", "string", "none", "any", "trino-querylog", "Basic-auth user."),
    ConfigKey(
        "elasticsearchPassword",
        "secret string",
        "none",
        "set with `pulumi config set --secret`",
        "(secret)",
        "Basic-auth password; the program stores it in Secrets Manager.",
    ),
    ConfigKey(
        "elasticsearchPasswordSecretArn",
        "string",
        "none",
        "a Secrets Manager secret ARN",
        "arn:aws:secretsmanager:…:secret:es-password-AbCdEf",
        "An existing secret holding the password.",
    ),
    ConfigKey(
        "elasticsearchCaBundle",
        "string",
        "system CAs",
        "PEM certificates, at most 4096 bytes",
        "-----BEGIN CERTIFICATE-----…",
        "CA that signed the Elasticsearch server certificate.",
    ),
    ConfigKey(
        "queryLogBackend",
        "string",
        "aws-opensearch for *.es.amazonaws.com, aws-opensearch-serverless for *.aoss.amazonaws.com, "
        "else elasticsearch",
        "elasticsearch, opensearch, aws-opensearch, aws-opensearch-serverless",
        "aws-opensearch",
        "Which server elasticsearchUrl is; the aws-* ones are signed with the coordinator's role (SigV4).",
    ),
    ConfigKey(
        "queryLogRetentionDays",
        "integer",
        "30",
        "1..3650",
        "90",
        "Query-log indices older than this are deleted (ILM on Elasticsearch, ISM on OpenSearch).",
    ),
    # --- security ------------------------------------------------------------------------------
    ConfigKey(
        "tls",
        "boolean",
        "true",
        "true, false",
        "true",
        "Coordinator serves clients HTTPS on 8443 (HTTP 8080 stays inside the cluster).",
    ),
    ConfigKey(
        "authentication",
        "string",
        "password when tls, else none",
        "none, password (needs tls)",
        "password",
        "Client authentication on the coordinator.",
    ),
    ConfigKey(
        "tlsCertificateSecretArn",
        "string",
        "required when tls",
        "a Secrets Manager secret ARN",
        "arn:aws:secretsmanager:…:secret:trino-tls-AbCdEf",
        "PEM certificate chain + private key.",
    ),
    ConfigKey(
        "passwordFileSecretArn",
        "string",
        "required when authentication is password",
        "a Secrets Manager secret ARN",
        "arn:aws:secretsmanager:…:secret:trino-users-AbCdEf",
        "Trino password file (user:bcrypt-hash lines).",
    ),
    ConfigKey(
        "tlsCaBundle",
        "string",
        "system CAs",
        "PEM certificates, at most 3000 bytes (Lambda environment limit)",
        "-----BEGIN CERTIFICATE-----…",
        "CA of the coordinator certificate, for the worker-health function's HTTPS query (passwords on).",
    ),
    # --- logs, drain, scaling, health, alarms --------------------------------------------------
    ConfigKey(
        "logRetentionDays",
        "map kind→integer",
        "{server: 30, httpRequest: 14, agent: 30, syslog: 14, functions: 30}",
        "kinds server, httpRequest, agent, syslog, functions; days one of "
        + ", ".join(map(str, LOG_RETENTION_DAYS)),
        "{server: 90, syslog: 7}",
        "Retention of each log group; missing kinds keep their default.",
    ),
    ConfigKey(
        "maxDrainMinutes",
        "integer",
        "360",
        f"1-{MAX_DRAIN_MINUTES} (48 h), at most 100 times the heartbeat",
        "720",
        "Longest a worker may drain its queries before it is terminated anyway.",
    ),
    ConfigKey(
        "lifecycleHeartbeatSeconds",
        "integer",
        "300",
        "30-7200",
        "600",
        "Lifecycle hook heartbeat timeout: how soon a worker with a dead agent is let go.",
    ),
    ConfigKey(
        "scalingCpuTargetPercent",
        "integer",
        "60",
        "10-95",
        "65",
        "Target tracking on the workers' average CPU.",
    ),
    ConfigKey(
        "scalingQueuedQueriesThreshold",
        "integer",
        "5",
        "1-10000",
        "10",
        "Queued queries above which workers are added in steps.",
    ),
    ConfigKey(
        "scalingMemoryReservedPercent",
        "integer",
        "80",
        "10-99 (a reservation cannot exceed 100, so 100 would never fire)",
        "75",
        "Cluster memory reservation above which workers are added in steps.",
    ),
    ConfigKey("scalingStepWorkers", "integer", "2", "1-100", "4", "Workers added by one scale-out step."),
    ConfigKey(
        "scalingWarmupSeconds",
        "integer",
        "300",
        "0-3600",
        "240",
        "Time before a new worker counts in the scaling metrics.",
    ),
    ConfigKey(
        "failoverFailedProbes",
        "integer",
        "3",
        "2-10",
        "3",
        "Consecutive failed probes of the active coordinator before its address moves.",
    ),
    ConfigKey(
        "failoverProbeIntervalSeconds", "integer", "5", "1-20", "5", "Seconds between failover probes."
    ),
    ConfigKey(
        "workerHealthGraceSeconds",
        "integer",
        "600",
        "60-3600",
        "900",
        "A new worker is not judged for this long.",
    ),
    ConfigKey(
        "workerHealthFailedChecks",
        "integer",
        "3",
        "1-60",
        "5",
        "Consecutive one-minute checks a worker must fail before it is marked unhealthy.",
    ),
    ConfigKey(
        "workerHealthMaxUnhealthyFraction",
        "number",
        "0.34",
        "greater than 0, at most 1",
        "0.25",
        "Most of the fleet unhealthy at once. When more workers than this fail a check at once, none is "
        "marked (a shared fault, not sick workers): `SystemicWorkerFault` and its alarm say so.",
    ),
    ConfigKey(
        "alarmTopicArns",
        "list of strings",
        "[]",
        "at most 5 SNS topic ARNs, in aws:region",
        "[arn:aws:sns:eu-west-1:111122223333:oncall]",
        "Where alarms notify.",
    ),
    ConfigKey(
        "failedQueriesAlarmThreshold",
        "integer",
        "10",
        "1-100000",
        "25",
        "Failed queries in 5 minutes that raise the failed-queries alarm.",
    ),
    # --- rollout (components/settings/rollout.py) ------------------------------------------------
    ConfigKey(
        "rolloutMinHealthyPercent",
        "integer",
        "90",
        "0-100",
        "75",
        "Share of workers kept in service while a refresh replaces the others (100: one at a time).",
    ),
    ConfigKey(
        "rolloutInstanceWarmupSeconds",
        "integer",
        "300",
        "0-3600",
        "240",
        "After a new worker is in service, how long the refresh waits before replacing the next batch.",
    ),
    ConfigKey(
        "rolloutCheckpointPercentages",
        "list of integers",
        "[] (no pauses)",
        "ascending, each 1-100, the last one 100",
        "[20, 50, 100]",
        "Shares of the worker fleet replaced at which the refresh pauses for rolloutCheckpointDelaySeconds.",
    ),
    ConfigKey(
        "rolloutCheckpointDelaySeconds",
        "integer",
        "600",
        "0-172800, only with rolloutCheckpointPercentages",
        "900",
        "Length of each checkpoint pause (time for the rollback alarms to judge the new workers).",
    ),
    ConfigKey(
        "rolloutAutoRollback",
        "boolean",
        "true",
        "true, false",
        "true",
        "Roll a refresh back when it fails or a rollback alarm fires (workers not joining, failed queries).",
    ),
    ConfigKey(
        "rolloutQuietWaitSeconds",
        "integer",
        "300",
        "0-3600",
        "600",
        "Coordinator switchover: longest wait for no running query before the address moves anyway.",
    ),
    ConfigKey(
        "rolloutStandbyWaitMinutes",
        "integer",
        "60",
        "1-420",
        "120",
        "Coordinator switchover: longest the leaving holder waits for a healthy standby on the new template.",
    ),
    ConfigKey(
        "workerSchedules",
        "list of maps",
        "[] (no schedules)",
        "name (a-z 0-9 -), recurrence (Unix cron: minute 0-59, hour 0-23, day 1-31, month 1-12 or "
        "JAN-DEC, weekday 0-6 or SUN-SAT), optional timeZone (IANA, default UTC); minSize, maxSize, "
        "desiredCapacity (0-1000), at least one",
        "[{name: nights, recurrence: '0 20 * * 1-5', minSize: 0, maxSize: 2, desiredCapacity: 0}]",
        "Scheduled sizes of the worker group (nights, weekends); every scale-in still drains.",
    ),
)

KNOWN = {key.name: key for key in KEYS}

# Namespaces a stack file may use besides the project's own. Others are probably typos of ours.
FOREIGN_NAMESPACES = ("aws", "pulumi")
