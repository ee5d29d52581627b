"""The worker's drain decisions: moto for AWS, FakeImds for the instance's view, StandInLifecycleApi
for the two lifecycle calls moto lacks, and a fake clock so hours of draining take no time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from node_agent.contract import CLOUDWATCH_NAMESPACE, Metric
from node_agent.imds import Imds
from node_agent.lifecycle.command import LifecycleAgent, LifecycleConfig, build_config
from node_agent.lifecycle.drain_state import StateStore
from node_agent.trino.admin import TrinoError, TrinoUnavailable
from tests.node_agent.sample_settings import sample_node_settings
from tools.harness.fakes import FakeImds, FakeTrinoNode, StandInLifecycleApi, instance_metadata

REGION = "us-east-1"
GROUP = "analytics-workers"
HOOK = "analytics-worker-drain"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    imds: FakeImds
    lifecycle_api: StandInLifecycleApi
    trino: FakeTrinoNode
    clock: Clock
    instance_id: str
    autoscaling: object
    cloudwatch: object
    state_file: Path
    trino_alive: list[bool]
    out: io.StringIO

    def agent(self, **config: object) -> LifecycleAgent:
        values: dict[str, object] = {
            "cluster": "analytics",
            "instance_id": self.instance_id,
            "hook_name": HOOK,
            "max_drain_seconds": 3600,
            "heartbeat_interval": 100,
        }
        values.update(config)
        return LifecycleAgent(
            config=LifecycleConfig(**values),  # type: ignore[arg-type]
            imds=Imds(self.imds.url),
            autoscaling=self.autoscaling,
            cloudwatch=self.cloudwatch,
            trino=self.trino,
            trino_running=lambda: self.trino_alive[0],
            store=StateStore(self.state_file),
            clock=self.clock,
            out=self.out,
        )

    def terminate(self) -> None:
        self.imds.set("autoscaling/target-lifecycle-state", "Terminated")

    def decisions(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


@dataclass(frozen=True)
class Aws:
    instance_id: str


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """One moto world per module (starting moto is the slow part); each test gets fresh clients,
    a fresh stand-in and a fresh state file, so no test sees another's lifecycle calls."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(key, "testing")
        with mock_aws():
            ec2 = boto3.client("ec2", region_name=REGION)
            autoscaling = boto3.client("autoscaling", region_name=REGION)
            ec2.create_launch_template(
                LaunchTemplateName="analytics-worker",
                LaunchTemplateData={"ImageId": "ami-0123456789abcdef0", "InstanceType": "m6i.xlarge"},
            )
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=GROUP,
                LaunchTemplate={"LaunchTemplateName": "analytics-worker", "Version": "$Latest"},
                MinSize=1,
                MaxSize=3,
                DesiredCapacity=1,
                AvailabilityZones=[f"{REGION}a"],
            )
            autoscaling.put_lifecycle_hook(
                LifecycleHookName=HOOK,
                AutoScalingGroupName=GROUP,
                LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
                HeartbeatTimeout=300,
                DefaultResult="CONTINUE",
            )
            groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
            yield Aws(instance_id=groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"])


@pytest.fixture
def world(aws: Aws, tmp_path: Path) -> Iterator[World]:
    lifecycle_api = StandInLifecycleApi()
    autoscaling = lifecycle_api.attach(boto3.client("autoscaling", region_name=REGION))
    imds = FakeImds(instance_metadata(aws.instance_id))
    try:
        yield World(
            imds=imds,
            lifecycle_api=lifecycle_api,
            trino=FakeTrinoNode(),
            clock=Clock(),
            instance_id=aws.instance_id,
            autoscaling=autoscaling,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            state_file=tmp_path / "state" / "lifecycle.json",
            trino_alive=[True],
            out=io.StringIO(),
        )
    finally:
        imds.stop()


def test_nothing_happens_while_the_instance_is_in_service(world: World) -> None:
    agent = world.agent()
    assert agent.step() == 5.0
    assert world.trino.shutdown_calls == 0
    assert world.lifecycle_api.calls == []
    assert not world.state_file.exists()


def test_terminated_target_state_asks_trino_to_shut_down(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    assert world.trino.shutdown_calls == 1


def test_no_completion_while_trino_still_runs(world: World) -> None:
    agent = world.agent()
    world.terminate()
    for _ in range(5):
        agent.step()
        world.clock.advance(1)
    assert world.lifecycle_api.completions() == []


def test_action_is_completed_with_continue_once_trino_exited(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.trino_alive[0] = False
    agent.step()
    [completion] = world.lifecycle_api.completions()
    assert completion.params == {
        "AutoScalingGroupName": GROUP,
        "LifecycleHookName": HOOK,
        "InstanceId": world.instance_id,
        "LifecycleActionResult": "CONTINUE",
    }


def test_draining_polls_every_second_so_completion_follows_the_exit_closely(world: World) -> None:
    agent = world.agent()
    world.terminate()
    assert agent.step() == 1.0


def test_heartbeats_are_recorded_each_interval_while_draining(world: World) -> None:
    agent = world.agent(heartbeat_interval=100)
    world.terminate()
    for _ in range(350):
        agent.step()
        world.clock.advance(1)
    heartbeats = world.lifecycle_api.heartbeats()
    assert len(heartbeats) == 4  # at 0, 100, 200 and 300 seconds
    assert heartbeats[0].params == {
        "AutoScalingGroupName": GROUP,
        "LifecycleHookName": HOOK,
        "InstanceId": world.instance_id,
    }


def test_maximum_drain_time_completes_with_trino_still_running(world: World) -> None:
    agent = world.agent(max_drain_seconds=600)
    world.terminate()
    agent.step()
    world.clock.advance(599)
    agent.step()
    assert world.lifecycle_api.completions() == []
    world.clock.advance(1)
    agent.step()
    assert len(world.lifecycle_api.completions()) == 1
    assert "maximum drain time 600s reached" in str(world.decisions()[-1]["reason"])


def test_dead_trino_completes_at_once_and_says_so(world: World) -> None:
    agent = world.agent()
    world.trino_alive[0] = False
    world.terminate()
    agent.step()
    assert world.trino.shutdown_calls == 0
    assert len(world.lifecycle_api.completions()) == 1, world.out.getvalue()
    assert "trino is not running" in str(world.decisions()[-1]["reason"])


def test_a_worker_terminated_out_of_the_warm_pool_completes_at_once(world: World) -> None:
    # It never started Trino (warmed); waiting out the heartbeat timeout would only hold the instance.
    agent = world.agent()
    world.trino_alive[0] = False
    world.imds.set("autoscaling/target-lifecycle-state", "Warmed:Terminated")
    agent.step()
    assert world.trino.shutdown_calls == 0
    assert len(world.lifecycle_api.completions()) == 1, world.out.getvalue()
    assert "Warmed:Terminated" in str(world.decisions()[0]["reason"])


def test_a_warmed_worker_is_not_drained(world: World) -> None:
    agent = world.agent()
    world.imds.set("autoscaling/target-lifecycle-state", "Warmed:Stopped")
    agent.step()
    assert world.trino.shutdown_calls == 0
    assert world.lifecycle_api.calls == []


def test_spot_notice_starts_the_drain_before_the_group_acts(world: World) -> None:
    agent = world.agent()
    world.imds.set("spot/instance-action", {"action": "terminate", "time": "2026-11-26T05:02:00Z"})
    agent.step()
    assert world.trino.shutdown_calls == 1
    assert world.lifecycle_api.calls == []  # no lifecycle action exists until the group terminates
    assert "spot interruption notice" in str(world.decisions()[0]["reason"])


def test_spot_drain_completes_when_the_group_terminates_the_instance(world: World) -> None:
    agent = world.agent()
    world.imds.set("spot/instance-action", {"action": "terminate", "time": "2026-11-26T05:02:00Z"})
    agent.step()
    world.trino_alive[0] = False
    agent.step()
    assert world.lifecycle_api.completions() == []
    world.terminate()
    agent.step()
    assert len(world.lifecycle_api.completions()) == 1


def test_rebalance_recommendation_is_noted_once_without_draining(world: World) -> None:
    agent = world.agent()
    world.imds.set("events/recommendations/rebalance", {"noticeTime": "2026-11-26T05:00:00Z"})
    agent.step()
    agent.step()
    assert world.trino.shutdown_calls == 0
    assert [d["decision"] for d in world.decisions()] == ["rebalance-noted"]


def test_restarted_agent_resumes_the_drain_without_asking_again(world: World) -> None:
    first = world.agent()
    world.terminate()
    first.step()
    started = first.record.started_at if first.record else None
    world.clock.advance(250)
    second = world.agent()
    second.step()
    assert world.trino.shutdown_calls == 1
    assert second.record is not None and second.record.started_at == started
    assert second.elapsed() == 250
    assert world.decisions()[-2]["decision"] == "resume"


def test_restarted_agent_keeps_the_heartbeat_rhythm(world: World) -> None:
    first = world.agent(heartbeat_interval=100)
    world.terminate()
    first.step()
    world.clock.advance(50)
    second = world.agent(heartbeat_interval=100)
    second.step()
    assert len(world.lifecycle_api.heartbeats()) == 1


def test_trino_already_shutting_down_is_not_asked_again(world: World) -> None:
    world.trino.current_state = "SHUTTING_DOWN"  # the agent died between its PUT and its state file
    agent = world.agent()
    world.terminate()
    agent.step()
    assert world.trino.shutdown_calls == 0
    assert agent.record is not None and agent.record.shutdown_requested


def test_refused_shutdown_backs_off_instead_of_asking_every_second(world: World) -> None:
    world.trino.refusal = TrinoError("PUT /v1/info/state: HTTP 403: Management only resource", status=403)
    agent = world.agent(max_drain_seconds=7200)
    world.terminate()
    for _ in range(3600):
        agent.step()
        world.clock.advance(1)
    assert world.trino.shutdown_attempts <= 20  # 2 s, 4 s, ... then every 300 s; not 3,600
    assert world.trino.shutdown_attempts >= 10  # still asking: the access rule may be fixed
    assert "shutdown-refused" in [d["decision"] for d in world.decisions()]
    assert len(world.lifecycle_api.heartbeats()) == 36  # the drain goes on meanwhile


def test_refused_shutdown_is_counted_in_a_metric_for_the_alarm(world: World) -> None:
    world.trino.refusal = TrinoError("PUT /v1/info/state: HTTP 401: Unauthorized", status=401)
    agent = world.agent()
    world.terminate()
    agent.step()
    metrics = world.cloudwatch.list_metrics(  # type: ignore[attr-defined]
        Namespace=CLOUDWATCH_NAMESPACE, MetricName=Metric.SHUTDOWN_REFUSED.value
    )["Metrics"]
    assert metrics[0]["Dimensions"] == [{"Name": "Cluster", "Value": "analytics"}]


def test_refused_shutdown_is_asked_again_once_the_backoff_has_passed(world: World) -> None:
    world.trino.refusal = TrinoError("PUT /v1/info/state: HTTP 403: Management only resource", status=403)
    agent = world.agent()
    world.terminate()
    agent.step()
    world.trino.refusal = None
    agent.step()
    assert world.trino.shutdown_calls == 0  # within the 2 s backoff
    world.clock.advance(2)
    agent.step()
    assert world.trino.shutdown_calls == 1
    assert agent.record is not None and agent.record.shutdown_requested


def test_trino_restarted_mid_drain_is_asked_to_shut_down_again(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.clock.advance(1)
    world.trino.restart()  # crashed and came back ACTIVE (trino.service Restart=on-failure)
    agent.step()
    assert world.trino.shutdown_calls == 2
    assert world.trino.current_state == "SHUTTING_DOWN"
    assert "restarted mid-drain" in str(world.decisions()[-1]["reason"])


def test_trino_still_shutting_down_is_not_asked_again_on_later_steps(world: World) -> None:
    agent = world.agent()
    world.terminate()
    for _ in range(30):
        agent.step()
        world.clock.advance(1)
    assert world.trino.shutdown_calls == 1


def test_trino_restarted_after_an_agent_restart_is_asked_to_shut_down_again(world: World) -> None:
    first = world.agent()
    world.terminate()
    first.step()
    world.trino.restart()
    second = world.agent()
    second.step()
    assert world.trino.shutdown_calls == 2
    assert second.record is not None and second.record.shutdown_requests == 2


def test_imds_outage_mid_drain_keeps_the_heartbeats_within_the_hook_timeout(world: World) -> None:
    world.lifecycle_api.observe = world.clock  # each heartbeat records the fake clock's time
    agent = world.agent(heartbeat_interval=100)  # hook heartbeat timeout 300 s, as in the fixture
    world.terminate()
    started = world.clock()
    agent.step()
    world.clock.advance(1)
    world.imds.outage = 503
    for _ in range(600):  # a 10-minute outage
        agent.step()
        world.clock.advance(1)
    world.imds.outage = None
    agent.step()
    times = [float(c.observed) for c in world.lifecycle_api.heartbeats()]  # type: ignore[arg-type]
    gaps = [b - a for a, b in zip([started, *times], [*times, world.clock()], strict=True)]
    assert max(gaps) < 300, gaps
    assert len(times) == 7  # 0, 100, ..., 600 s
    decisions = [d["decision"] for d in world.decisions()]
    assert decisions.count("imds-unavailable") == 1 and "imds-available" in decisions


def test_imds_outage_after_an_agent_restart_heartbeats_on_the_recorded_state(world: World) -> None:
    first = world.agent(heartbeat_interval=100)
    world.terminate()
    first.step()
    world.imds.outage = 500
    world.clock.advance(100)
    second = world.agent(heartbeat_interval=100)  # restarted while IMDS is down
    second.step()
    assert len(world.lifecycle_api.heartbeats()) == 2


def test_imds_outage_before_any_drain_starts_none(world: World) -> None:
    agent = world.agent()
    world.imds.outage = 503
    assert agent.step() == 5.0
    assert world.trino.shutdown_calls == 0
    assert world.lifecycle_api.calls == []


def test_trino_exit_during_an_imds_outage_completes_on_the_last_known_state(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.imds.outage = 503
    world.trino_alive[0] = False
    agent.step()
    assert len(world.lifecycle_api.completions()) == 1


def test_heartbeats_continue_while_trino_does_not_answer(world: World) -> None:
    world.trino.fault = TrinoUnavailable("timed out")
    agent = world.agent(heartbeat_interval=10)
    world.terminate()
    for _ in range(25):
        agent.step()
        world.clock.advance(1)
    assert len(world.lifecycle_api.heartbeats()) == 3
    assert world.lifecycle_api.completions() == []


def test_completed_drain_is_not_completed_again_after_restart(world: World) -> None:
    first = world.agent()
    world.terminate()
    first.step()
    world.trino_alive[0] = False
    first.step()
    second = world.agent()
    second.step()
    assert len(world.lifecycle_api.completions()) == 1


def test_an_expired_action_ends_the_drain_instead_of_retrying_forever(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.autoscaling.complete_lifecycle_action(  # type: ignore[attr-defined]
        AutoScalingGroupName=GROUP,
        LifecycleHookName=HOOK,
        InstanceId=world.instance_id,
        LifecycleActionResult="CONTINUE",
    )
    world.clock.advance(100)
    agent.step()
    assert agent.record is not None and agent.record.completed
    assert "no longer active" in str(world.decisions()[-1]["reason"])


def test_the_termination_hook_is_found_when_not_configured(world: World) -> None:
    agent = world.agent(hook_name="")
    world.trino_alive[0] = False
    world.terminate()
    agent.step()
    assert world.lifecycle_api.completions()[0].params["LifecycleHookName"] == HOOK


def test_drain_seconds_are_published_to_cloudwatch(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.clock.advance(42)
    world.trino_alive[0] = False
    agent.step()
    metrics = world.cloudwatch.list_metrics(  # type: ignore[attr-defined]
        Namespace=CLOUDWATCH_NAMESPACE, MetricName=Metric.WORKER_DRAIN_SECONDS.value
    )["Metrics"]
    assert metrics[0]["Dimensions"] == [{"Name": "Cluster", "Value": "analytics"}]


def test_every_decision_is_one_json_line_with_instance_state_reason_elapsed(world: World) -> None:
    agent = world.agent()
    world.terminate()
    agent.step()
    world.clock.advance(7)
    world.trino_alive[0] = False
    agent.step()
    decisions = world.decisions()
    assert [d["decision"] for d in decisions] == ["drain", "shutdown-requested", "heartbeat", "complete"]
    last = decisions[-1]
    assert last["instance"] == world.instance_id
    assert last["state"] == "Terminated"
    assert last["elapsed"] == 7
    assert "trino exited after draining" in str(last["reason"])


def test_a_state_file_of_another_instance_is_ignored(world: World) -> None:
    world.state_file.parent.mkdir(parents=True)
    world.state_file.write_text(
        json.dumps({"instance_id": "i-other", "reason": "x", "started_at": 1.0, "shutdown_requested": True})
    )
    agent = world.agent()
    assert agent.record is None


def test_an_unreadable_state_file_is_moved_aside_and_the_drain_still_happens(world: World) -> None:
    world.state_file.parent.mkdir(parents=True)
    world.state_file.write_text("{half a reco")
    world.trino.current_state = "SHUTTING_DOWN"
    agent = world.agent()
    assert world.decisions()[0]["decision"] == "state-unreadable"
    assert world.state_file.with_suffix(".unreadable").exists()
    world.terminate()
    agent.step()
    assert world.trino.shutdown_calls == 0  # Trino's own state says the drain was already asked for
    assert agent.record is not None and agent.record.shutdown_requested


def test_timings_come_from_the_node_settings() -> None:
    settings = sample_node_settings(
        region=REGION,
        heartbeat_timeout_seconds=300,
        max_drain_seconds=72 * 3600,
        lifecycle_hook_name=HOOK,
    )
    config = build_config(settings, "i-1")
    assert config.heartbeat_interval == 100
    assert config.max_drain_seconds == 48 * 3600  # AWS never waits longer for one action
    assert config.hook_name == HOOK
