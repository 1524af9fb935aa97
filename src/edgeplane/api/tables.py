"""Table output (``kubectl get``): column definitions and row cells, computed as Kubernetes' printers do.

Rows always carry every column (the server prints "wide"); kubectl hides priority-1 columns unless ``-o wide``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgeplane.api.jsonpath import compile_path
from edgeplane.api.selectors import LabelSelector, SelectorError

Row = Callable[[dict[str, Any], datetime], list[Any]]
NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC."
)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True, slots=True)
class TablePrinter:
    columns: tuple[Column, ...]
    row: Row


NAME = Column("Name", format="name", description=NAME_DESCRIPTION)
AGE = Column("Age", description=AGE_DESCRIPTION)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: 45s, 5m30s, 3h12m, 4d2h, 2y30d..."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: datetime) -> str:
    """``translateTimestampSince``: how long ago, or ``<unknown>`` when unset."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return human_duration((now - when).total_seconds())


def age(obj: dict[str, Any], now: datetime) -> str:
    return since(obj.get("metadata", {}).get("creationTimestamp"), now)


def name(obj: dict[str, Any]) -> str:
    return obj.get("metadata", {}).get("name", "")


def format_selector(selector: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: ``app=web,tier in (a,b)``; ``<none>`` when empty."""
    if not selector:
        return "<none>"
    try:
        return str(LabelSelector.from_dict(selector)) or "<none>"
    except SelectorError:
        return "<error>"


def format_labels(labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _containers_images(spec: dict[str, Any]) -> list[str]:
    containers = spec.get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


WIDE_WORKLOAD = (
    Column("Containers", description="Names of each container in the template.", priority=1),
    Column("Images", description="Images referenced by each container in the template.", priority=1),
    Column("Selector", description="Label selector for pods.", priority=1),
)


def _workload_wide(obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return [*_containers_images(template_spec), format_selector(spec.get("selector"))]


# --- pods -------------------------------------------------------------------------------------------------


def _restartable_init(container: dict[str, Any] | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _later(current: str | None, candidate: str | None) -> str | None:
    if candidate and (current is None or (parse_time(candidate) or datetime.min.replace(tzinfo=UTC))
                      > (parse_time(current) or datetime.min.replace(tzinfo=UTC))):
        return candidate
    return current


def pod_status_cells(pod: dict[str, Any], now: datetime) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS as kubectl computes them (init progress, waiting reasons, Terminating)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for condition in status.get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or ()}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable_init(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: str | None = None
    sidecar_last: str | None = None
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        restarts += container.get("restartCount", 0)
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        last_restart = _later(last_restart, finished)
        sidecar = _restartable_init(init_specs.get(container.get("name")))
        if sidecar:
            sidecar_restarts += container.get("restartCount", 0)
            sidecar_last = _later(sidecar_last, finished)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or ())
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last
        running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += container.get("restartCount", 0)
            last_restart = _later(last_restart,
                                  ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif container.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            has_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or ())
            reason = "Running" if has_ready else "NotReady"
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({since(last_restart, now)} ago)"
    return f"{ready}/{total}", reason, restarts_text


def _pod_row(pod: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready, reason, restarts = pod_status_cells(pod, now)
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips else None) or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    if gates:
        true_conditions = {c.get("type") for c in status.get("conditions") or () if c.get("status") == "True"}
        gates_text = f"{sum(1 for g in gates if g.get('conditionType') in true_conditions)}/{len(gates)}"
    else:
        gates_text = "<none>"
    return [name(pod), ready, reason, restarts, age(pod, now), ip, spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_text]


PODS = TablePrinter(
    (
        NAME,
        Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column("Restarts", description="The number of times the containers in this pod have been restarted and "
                                       "when the last container in this pod has restarted."),
        AGE,
        Column("IP", description="podIP address allocated to the pod. Routable at least within the cluster. "
                                 "Empty if not yet allocated.", priority=1),
        Column("Node", description="NodeName indicates in which node this pod is scheduled.", priority=1),
        Column("Nominated Node", description="nominatedNodeName is set only when this pod preempts other pods "
                                             "on the node.", priority=1),
        Column("Readiness Gates", description="If specified, all readiness gates will be evaluated for pod "
                                              "readiness.", priority=1),
    ),
    _pod_row,
)

# --- nodes ------------------------------------------------------------------------------------------------


def _node_row(node: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    states = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k
                    and k.split("/", 1)[1]} | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role")
                                               else set()))
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or "<none>"

    return [name(node), ",".join(states), ",".join(roles) or "<none>", age(node, now),
            info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


NODES = TablePrinter(
    (
        NAME,
        Column("Status", description="The status of the node"),
        Column("Roles", description="The roles of the node"),
        AGE,
        Column("Version", description="Kubelet Version reported by the node."),
        Column("Internal-IP", description="List of addresses reachable to the node.", priority=1),
        Column("External-IP", description="List of addresses reachable to the node.", priority=1),
        Column("OS-Image", description="OS Image reported by the node from /etc/os-release.", priority=1),
        Column("Kernel-Version", description="Kernel Version reported by the node.", priority=1),
        Column("Container-Runtime", description="Container Runtime Version reported by the node.", priority=1),
    ),
    _node_row,
)

# --- workloads --------------------------------------------------------------------------------------------


def _deployment_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name(obj), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(obj, now),
            *_workload_wide(obj)]


DEPLOYMENTS = TablePrinter(
    (
        NAME,
        Column("Ready", description="Number of the pod with ready state"),
        Column("Up-to-date", type="integer", description="Total number of non-terminated pods targeted by this "
                                                         "deployment that have the desired template spec."),
        Column("Available", type="integer", description="Total number of available pods (ready for at least "
                                                        "minReadySeconds) targeted by this deployment."),
        AGE,
        *WIDE_WORKLOAD,
    ),
    _deployment_row,
)


def _replicaset_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(obj, now), *_workload_wide(obj)]


REPLICASETS = TablePrinter(
    (
        NAME,
        Column("Desired", type="integer", description="Replicas is the number of desired replicas."),
        Column("Current", type="integer", description="Replicas is the most recently observed number of "
                                                      "replicas."),
        Column("Ready", type="integer", description="The number of ready replicas for this replica set."),
        AGE,
        *WIDE_WORKLOAD,
    ),
    _replicaset_row,
)


def _daemonset_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    node_selector = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector")
    return [name(obj), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0),
            status.get("numberAvailable", 0), format_labels(node_selector), age(obj, now), *_workload_wide(obj)]


DAEMONSETS = TablePrinter(
    (
        NAME,
        Column("Desired", type="integer", description="The total number of nodes that should be running the "
                                                      "daemon pod."),
        Column("Current", type="integer", description="The number of nodes that are running at least 1 daemon "
                                                      "pod and are supposed to run the daemon pod."),
        Column("Ready", type="integer", description="The number of nodes that should be running the daemon pod "
                                                    "and have one or more of the daemon pod running and ready."),
        Column("Up-to-date", type="integer", description="The total number of nodes that are running updated "
                                                         "daemon pod"),
        Column("Available", type="integer", description="The number of nodes that should be running the daemon "
                                                        "pod and have one or more of the daemon pod running and "
                                                        "available."),
        Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to fit "
                                            "on a node."),
        AGE,
        *WIDE_WORKLOAD,
    ),
    _daemonset_row,
)

# --- small core kinds -------------------------------------------------------------------------------------

NAMESPACES = TablePrinter(
    (NAME, Column("Status", description="The status of the namespace"), AGE),
    lambda obj, now: [name(obj), (obj.get("status") or {}).get("phase", ""), age(obj, now)],
)

CONFIGMAPS = TablePrinter(
    (NAME, Column("Data", type="integer", description="Data contains the configuration data."), AGE),
    lambda obj, now: [name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj, now)],
)

SECRETS = TablePrinter(
    (
        NAME,
        Column("Type", description="Used to facilitate programmatic handling of secret data."),
        Column("Data", type="integer", description="Data contains the secret data."),
        AGE,
    ),
    lambda obj, now: [name(obj), obj.get("type", ""), len(obj.get("data") or {}), age(obj, now)],
)

SERVICEACCOUNTS = TablePrinter(
    (NAME, Column("Secrets", type="integer", description="Secrets is a list of the secrets in the same "
                                                         "namespace that pods running using this "
                                                         "ServiceAccount are allowed to use."), AGE),
    lambda obj, now: [name(obj), len(obj.get("secrets") or []), age(obj, now)],
)

LEASES = TablePrinter(
    (NAME, Column("Holder", description="HolderIdentity contains the identity of the holder of a current "
                                        "lease."), AGE),
    lambda obj, now: [name(obj), (obj.get("spec") or {}).get("holderIdentity") or "", age(obj, now)],
)


def _service_external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName", "")
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") or "" for i in (status.get("loadBalancer") or {}).get(
            "ingress") or ()]
        found = [x for x in ingress + external if x]
        return ",".join(found) if found else "<pending>"
    return ",".join(external) if external else "<none>"


def _service_ports(ports: list[dict[str, Any]]) -> str:
    parts = []
    for port in ports:
        text = str(port.get("port", ""))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _service_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name(obj), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            _service_external_ip(spec, status), _service_ports(spec.get("ports") or []), age(obj, now),
            format_labels(spec.get("selector"))]


SERVICES = TablePrinter(
    (
        NAME,
        Column("Type", description="type determines how the Service is exposed."),
        Column("Cluster-IP", description="clusterIP is the IP address of the service."),
        Column("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                          "cluster will also accept traffic for this service."),
        Column("Port(s)", description="The list of ports that are exposed by this service."),
        AGE,
        Column("Selector", description="Route service traffic to pods with label keys and values matching this "
                                       "selector.", priority=1),
    ),
    _service_row,
)


def _event_source(event: dict[str, Any]) -> str:
    source = event.get("source") or {}
    component, host = source.get("component", ""), source.get("host", "")
    if not component and not host:
        component, host = event.get("reportingComponent", ""), event.get("reportingInstance", "")
    return f"{component}, {host}" if host else component


def _event_row(event: dict[str, Any], now: datetime) -> list[Any]:
    first = since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    count = event.get("count") or 1
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count", count)
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
            _event_source(event), (event.get("message") or "").strip(), first, count, name(event)]


EVENTS = TablePrinter(
    (
        Column("Last Seen", description="The time at which the most recent occurrence of this event was "
                                        "recorded."),
        Column("Type", description="Type of this event (Normal, Warning), new types could be added in the "
                                   "future."),
        Column("Reason", description="This should be a short, machine understandable string that gives the "
                                     "reason for the transition into the object's current status."),
        Column("Object", description="The object that this event is about."),
        Column("Subobject", description="The specific part of the object the event is about.", priority=1),
        Column("Source", description="The component reporting this event.", priority=1),
        Column("Message", description="A human-readable description of the status of this operation."),
        Column("First Seen", description="The time at which the event was first recorded.", priority=1),
        Column("Count", description="The number of times this event has occurred.", priority=1),
        Column("Name", format="name", description=NAME_DESCRIPTION, priority=1),
    ),
    _event_row,
)

# --- generic and custom resources -------------------------------------------------------------------------

DEFAULT = TablePrinter(
    (NAME, Column("Created At", type="date", description=AGE_DESCRIPTION)),
    lambda obj, now: [name(obj), (obj.get("metadata") or {}).get("creationTimestamp")],
)


def custom_printer(columns: list[dict[str, Any]]) -> TablePrinter:
    """A CRD's additionalPrinterColumns (or NAME, AGE when it has none), cells typed as Kubernetes does."""
    if not columns:
        columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    specs = [(compile_path(c["jsonPath"]), c.get("type", "string")) for c in columns]
    definitions = (NAME, *(Column(c["name"], type=c.get("type", "string"), format=c.get("format", ""),
                                  description=c.get("description", ""), priority=c.get("priority", 0))
                           for c in columns))

    def row(obj: dict[str, Any], now: datetime) -> list[Any]:
        cells: list[Any] = [name(obj)]
        for evaluate, kind in specs:
            found = evaluate(obj)
            cells.append(_typed_cell(kind, found[0], now) if found else None)
        return cells

    return TablePrinter(definitions, row)


def _typed_cell(kind: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return (since(value, now) if parse_time(value) else "<invalid>") if isinstance(value, str) else None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))
