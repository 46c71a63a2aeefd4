"""Whether a cluster can grow, from what Ray holds (the cluster's own answer on a `ray start` cluster:
tests/integration/test_cluster.py's refusal)."""

from __future__ import annotations

import pytest

from mixup_tune import ray_session
from mixup_tune.errors import UserError
from mixup_tune.ray_session import autoscaling_node_groups

# what Ray 2.60's monitor publishes for a cluster of `ray start` nodes (read off a loopback head): its node
# types are its nodes, through the read-only provider
FIXED = {
    "active_nodes": {"node_0d2cc065": 1},
    "pending_nodes": [],
    "pending_launches": {},
    "node_type_mapping": {"0d2cc065": "node_0d2cc065"},
    "legacy": True,
}


def test_a_cluster_of_ray_start_nodes_cannot_grow() -> None:
    assert autoscaling_node_groups([], FIXED) is None
    assert autoscaling_node_groups([], None) is None  # no monitor report at all


def test_a_classic_autoscaler_with_node_types_of_its_own_grows_by_types_ray_does_not_describe() -> None:
    assert (
        autoscaling_node_groups([], {**FIXED, "node_type_mapping": {"0d2cc065": "head", "ab12": "gpu"}}) == []
    )
    assert autoscaling_node_groups([], {**FIXED, "pending_launches": {"gpu": 1}}) == []


def test_reported_node_groups_are_the_types_it_can_add() -> None:
    groups = [({"CPU": 8.0, "GPU": 1.0}, 4), ({"CPU": 64.0}, 0), ({"CPU": 2.0}, -1)]
    assert autoscaling_node_groups(groups, FIXED) == [{"CPU": 8.0, "GPU": 1.0}, {"CPU": 2.0}]


def test_what_the_checks_claimed_is_given_back_when_ray_then_fails_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ray's own start is not faked elsewhere; here it fails, as a local Ray that cannot start its GCS does
    def cannot_start(address: str | None, runtime_env: object = None) -> None:
        raise UserError("cannot connect to Ray at a new local instance: Failed to start GCS")

    monkeypatch.setattr(ray_session, "connect_ray", cannot_start)
    given_back: list[str] = []
    with pytest.raises(UserError, match="Failed to start GCS"):
        ray_session.start_local_ray_while(lambda started: "the sweep's lease", undo=given_back.append)
    assert given_back == ["the sweep's lease"]

    def refused(started: ray_session.RayStarted) -> str:
        raise UserError("the checks refused: nothing was claimed")

    with pytest.raises(UserError, match="Failed to start GCS"):
        ray_session.start_local_ray_while(refused, undo=given_back.append)
    assert given_back == ["the sweep's lease"], "nothing to give back"
