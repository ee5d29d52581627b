"""The keys that say how the cluster runs: logs, drain, scaling, health, alarms, rollout and
schedules."""

from __future__ import annotations

from components.settings.keys.key import LOG_RETENTION_DAYS, MAX_DRAIN_MINUTES, ConfigKey

KEYS: tuple[ConfigKey, ...] = (
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
        "scalingFastQueueMetric",
        "boolean",
        "false",
        "true, false",
        "true",
        "Publish QueuedQueries every 10 s at high resolution and add workers after three 10 s periods "
        "above the threshold instead of two 60 s ones: more workers are asked for 30-60 s after a queue "
        "builds up instead of 120-255 s. Costs about $1 a month at us-east-1 prices: a high-resolution "
        "alarm ($0.30 instead of $0.10) and 6 PutMetricData calls a minute from the address holder "
        "instead of 4 ($0.01 per 1,000).",
    ),
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
