"""The edge metastore: versioned downstream objects, subscribers, and the upstream outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeplane.edge.metastore import Change, MetaStore, MetaStoreError


def pod(name: str, rv: int, uid: str = "u1", **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": str(rv)},
            "spec": {"nodeName": "n1", **spec}, "status": {"phase": "Pending"}}


@pytest.fixture
def store(tmp_path: Path) -> MetaStore:
    ms = MetaStore(tmp_path / "metastore.db")
    yield ms
    ms.close()


def test_apply_never_goes_back_to_an_older_version(store: MetaStore) -> None:
    applied = store.apply([Change("pods", "default", "a", 5, pod("a", 5, image="v5"))])
    assert [c.rv for c in applied] == [5]
    assert store.apply([Change("pods", "default", "a", 3, pod("a", 3, image="v3"))]) == []
    assert store.apply([Change("pods", "default", "a", 5, pod("a", 5, image="again"))]) == []
    assert store.get("pods", "default", "a")["spec"]["image"] == "v5"
    store.apply([Change("pods", "default", "a", 9, pod("a", 9, image="v9"))])
    assert store.get("pods", "default", "a")["spec"]["image"] == "v9"
    assert store.inventory() == {"pods/default/a": 9}
    assert store.applied_versions("pods", "default", "a") == [(5, False), (9, False)]


def test_deletion_applies_only_when_not_older_than_what_is_held(store: MetaStore) -> None:
    store.apply([Change("pods", "default", "a", 5, pod("a", 5))])
    assert store.apply([Change("pods", "default", "a", 4)]) == []
    assert store.get("pods", "default", "a") is not None
    assert len(store.apply([Change("pods", "default", "a", 6)])) == 1
    assert store.get("pods", "default", "a") is None
    assert store.inventory() == {}


def test_everything_survives_reopening(tmp_path: Path) -> None:
    ms = MetaStore(tmp_path / "m.db")
    ms.apply([Change("pods", "default", "a", 5, pod("a", 5)),
              Change("configmaps", "default", "c", 6, {"metadata": {"name": "c", "namespace": "default"}})])
    ms.report_status("pods", "default", "a", {"phase": "Running"})
    ms.report_event({"metadata": {"name": "e1", "namespace": "default"}, "reason": "Started"})
    ms.close()
    again = MetaStore(tmp_path / "m.db")
    assert again.inventory() == {"pods/default/a": 5, "configmaps/default/c": 6}
    assert again.get("pods", "default", "a")["status"] == {"phase": "Running"}
    assert [e.kind for e in again.outbox()] == ["status", "event"]
    again.report_lease()
    assert again.outbox()[-1].seq > again.outbox()[-2].seq  # sequence numbers continue after a restart
    again.close()


def test_subscribers_see_committed_changes_in_order(store: MetaStore) -> None:
    seen: list[tuple[str, str, str]] = []
    store.subscribe(lambda resource, kind, obj: seen.append((resource, kind, obj["metadata"]["name"])))
    store.apply([Change("pods", "default", "a", 1, pod("a", 1))])
    store.apply([Change("pods", "default", "a", 2, pod("a", 2))])
    store.apply([Change("pods", "default", "a", 3)])
    assert seen == [("pods", "ADDED", "a"), ("pods", "MODIFIED", "a"), ("pods", "DELETED", "a")]


def test_a_failing_subscriber_does_not_stop_the_others(store: MetaStore) -> None:
    seen = []

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    store.subscribe(broken)
    store.subscribe(lambda *args: seen.append(args[1]))
    store.apply([Change("pods", "default", "a", 1, pod("a", 1))])
    assert seen == ["ADDED"]


def test_outbox_keeps_the_latest_status_per_object(store: MetaStore) -> None:
    store.apply([Change("pods", "default", "a", 1, pod("a", 1, uid="uid-a"))])
    store.report_status("pods", "default", "a", {"phase": "Pending"})
    store.report_status("pods", "default", "a", {"phase": "Running"})
    entries = store.outbox()
    assert len(entries) == 1
    assert entries[0].body == {"resource": "pods", "namespace": "default", "name": "a", "uid": "uid-a",
                               "status": {"phase": "Running"}}
    assert store.get("pods", "default", "a")["status"] == {"phase": "Running"}


def test_ack_drops_only_the_acknowledged_sequence(store: MetaStore) -> None:
    store.report_status("nodes", "", "n1", {"phase": "x"})
    first = store.outbox()[0]
    store.report_status("nodes", "", "n1", {"phase": "y"})  # replaced while the first was in flight
    store.ack_outbox([first.seq])
    remaining = store.outbox()
    assert [e.body["status"] for e in remaining] == [{"phase": "y"}]
    store.ack_outbox([remaining[0].seq])
    assert store.outbox() == []


def test_a_pending_status_survives_a_newer_object_from_the_cloud(store: MetaStore) -> None:
    store.apply([Change("pods", "default", "a", 1, pod("a", 1))])
    store.report_status("pods", "default", "a", {"phase": "Running"})
    store.apply([Change("pods", "default", "a", 2, pod("a", 2))])  # carries the cloud's older status
    assert store.get("pods", "default", "a")["status"] == {"phase": "Running"}
    store.ack_outbox([e.seq for e in store.outbox()])
    store.apply([Change("pods", "default", "a", 3, pod("a", 3))])
    assert store.get("pods", "default", "a")["status"] == {"phase": "Pending"}


def test_events_are_bounded_oldest_first(tmp_path: Path) -> None:
    ms = MetaStore(tmp_path / "m.db", max_events=3)
    for i in range(6):
        ms.report_event({"metadata": {"name": f"e{i}", "namespace": "default"}})
    ms.report_status("nodes", "", "n1", {})
    assert [e.body["metadata"]["name"] for e in ms.outbox() if e.kind == "event"] == ["e3", "e4", "e5"]
    assert ms.outbox_size() == 4
    ms.close()


def test_the_whole_outbox_is_bounded(tmp_path: Path) -> None:
    ms = MetaStore(tmp_path / "m.db", max_outbox=5)
    for i in range(8):
        ms.report_status("nodes", "", f"n{i}", {})
    assert [e.body["name"] for e in ms.outbox()] == ["n3", "n4", "n5", "n6", "n7"]
    ms.close()


def test_confirmed_deletion_and_local_removal_guarded_by_uid(store: MetaStore) -> None:
    store.apply([Change("pods", "default", "a", 1, pod("a", 1, uid="new"))])
    store.confirm_pod_deleted("default", "a", "old")
    assert store.outbox()[0].body == {"namespace": "default", "name": "a", "uid": "old"}
    assert store.remove("pods", "default", "a", "old") is False  # a newer pod of that name stays
    assert store.remove("pods", "default", "a", "new") is True
    assert store.get("pods", "default", "a") is None


def test_bad_input_is_refused_with_what_is_wrong(store: MetaStore) -> None:
    with pytest.raises(MetaStoreError, match="must be pods or nodes"):
        store.report_status("configmaps", "default", "c", {})
    with pytest.raises(MetaStoreError, match="needs a metadata"):
        store.report_event({"reason": "x"})


async def test_outbox_waiter_wakes_on_new_entries(store: MetaStore) -> None:
    waiter = store.outbox_waiter()
    assert not waiter.is_set()
    store.report_lease()
    assert waiter.is_set()
