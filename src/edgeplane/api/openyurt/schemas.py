"""OpenAPI v3 schemas of NodePool (apps.openyurt.io/v1beta2) and YurtAppSet (apps.openyurt.io/v1beta1).

Written from OpenYurt's Go types (pkg/apis/apps/v1beta2/nodepool_types.go, v1beta1/yurtappset_types.go), with
their field documentation, so validation and ``kubectl explain`` describe the same fields OpenYurt serves. They
refer to Kubernetes' packaged definitions (ObjectMeta, Taint, LabelSelector, DeploymentSpec) by ``$ref``.
"""

from __future__ import annotations

import copy
from typing import Any

from edgeplane.api.openyurt import GROUP, NODEPOOL_VERSION, YURTAPPSET_VERSION

REF = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
NODEPOOL = f"io.openyurt.apps.{NODEPOOL_VERSION}."
YURTAPPSET = f"io.openyurt.apps.{YURTAPPSET_VERSION}."
NODEPOOL_DEFINITION = NODEPOOL + "NodePool"
YURTAPPSET_DEFINITION = YURTAPPSET + "YurtAppSet"

API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                   "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                   "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                   "api-conventions.md#resources")
KIND_DOC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
            "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
            "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")


def _ref(name: str, description: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"$ref": REF + name}
    if description:
        node["description"] = description
    return node


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, fmt: str = "int32") -> dict[str, Any]:
    return {"type": "integer", "format": fmt, "description": description}


def _bool(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def _string_map(description: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description}


def _array(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description, "x-kubernetes-list-type": "atomic"}


def _kind(description: str, spec: str, status: str, version: str, kind: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": _string(API_VERSION_DOC),
            "kind": _string(KIND_DOC),
            "metadata": _ref(META + "ObjectMeta", "Standard object's metadata. More info: https://git.k8s.io/"
                             "community/contributors/devel/sig-architecture/api-conventions.md#metadata"),
            "spec": _ref(spec),
            "status": _ref(status),
        },
        "x-kubernetes-group-version-kind": [{"group": GROUP, "kind": kind, "version": version}],
    }


def _list(item: str, description: str, version: str, kind: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": _string(API_VERSION_DOC),
            "items": {"type": "array", "items": _ref(item), "description": f"List of {kind[:-4].lower()}s."},
            "kind": _string(KIND_DOC),
            "metadata": _ref(META + "ListMeta", "Standard list metadata."),
        },
        "x-kubernetes-group-version-kind": [{"group": GROUP, "kind": kind, "version": version}],
    }


def _condition(kind: str) -> dict[str, Any]:
    return {
        "description": f"{kind}Condition describes the current state of a {kind}.",
        "type": "object",
        "properties": {
            "type": _string(f"Type of {kind} condition."),
            "status": _string("Status of the condition, one of True, False, Unknown."),
            "lastTransitionTime": _ref(META + "Time", "Last time the condition transitioned from one status to "
                                                      "another."),
            "reason": _string("The reason for the condition's last transition."),
            "message": _string("A human readable message indicating details about the transition."),
        },
    }


def _nodepool() -> dict[str, dict[str, Any]]:
    gvr = {
        "description": "GroupVersionResource unambiguously identifies a resource.",
        "type": "object",
        "required": ["group", "version", "resource"],
        "properties": {"group": _string("Group of the resource (\"\" for the core group)."),
                       "version": _string("Version of the resource."),
                       "resource": _string("Resource name in plural, as in its URL path.")},
    }
    spec = {
        "description": "NodePoolSpec defines the desired state of NodePool",
        "type": "object",
        "properties": {
            "type": _string("The type of the NodePool: Edge or Cloud (Edge when not given)."),
            "hostNetwork": _bool("HostNetwork is used to specify that cni components(like flannel) will not be "
                                 "installed on the nodes of this NodePool. This means all pods on the nodes of "
                                 "this NodePool will use HostNetwork and share network namespace with host "
                                 "machine. It cannot be changed after creation."),
            "labels": _string_map("If specified, the Labels will be added to all nodes. NOTE: existing labels "
                                  "with same keys on the nodes will be overwritten."),
            "annotations": _string_map("If specified, the Annotations will be added to all nodes. NOTE: existing "
                                       "annotations with same keys on the nodes will be overwritten."),
            "taints": _array(_ref("io.k8s.api.core.v1.Taint"), "If specified, the Taints will be added to all "
                                                                "nodes."),
            "interConnectivity": _bool("InterConnectivity represents all nodes in the NodePool can access with "
                                       "each other through Layer 2 or Layer 3 network or not. If the field is "
                                       "true, nodepool-level list/watch requests reuse can be applied for this "
                                       "nodepool. otherwise, only node-level list/watch requests reuse can be "
                                       "applied for the nodepool. This field cannot be changed after creation."),
            "leaderElectionStrategy": _string("LeaderElectionStrategy represents the policy how to elect a leader "
                                              "Yurthub in a nodepool. random: select one ready node as leader at "
                                              "random. mark: select one ready node as leader from nodes that are "
                                              "specified by labelselector."),
            "leaderNodeLabelSelector": _string_map("LeaderNodeLabelSelector is used only when "
                                                   "LeaderElectionStrategy is mark. leader Yurhub will be elected "
                                                   "from nodes that filtered by this label selector."),
            "enableLeaderElection": _bool("EnableLeaderElection is used for specifying whether to enable a leader "
                                          "elections for the nodepool. LeaderNodeLabelSelector, "
                                          "LeaderElectionStrategy and LeaderReplicas are only valid when this is "
                                          "true. If the field is not specified, the default value is false."),
            "poolScopeMetadata": _array(gvr, "PoolScopeMetadata is used for defining requests for pool scoped "
                                             "metadata which will be aggregated by each node or leader in nodepool "
                                             "(when EnableLeaderElection is set true). This field can be modified. "
                                             "The default value is v1.services and discovery.endpointslices."),
            "leaderReplicas": _int("LeaderReplicas is used for specifying the number of leader replicas in the "
                                   "nodepool. If the field is not specified, the default value is 1."),
        },
    }
    leader = {
        "description": "Leader represents the hub leader in a nodepool",
        "type": "object",
        "required": ["nodeName", "address"],
        "properties": {"nodeName": _string("The node name of the leader yurthub"),
                       "address": _string("The address of the leader yurthub")},
    }
    status = {
        "description": "NodePoolStatus defines the observed state of NodePool",
        "type": "object",
        "properties": {
            "readyNodeNum": _int("Total number of ready nodes in the pool."),
            "unreadyNodeNum": _int("Total number of unready nodes in the pool."),
            "nodes": _array({"type": "string", "default": ""}, "The list of nodes' names in the pool"),
            "leaderEndpoints": _array(_ref(NODEPOOL + "Leader"), "LeaderEndpoints is used for storing the address "
                                                                 "of Leader Yurthub."),
            "leaderNum": _int("LeaderNum is used for storing the number of leader yurthubs in the nodepool."),
            "leaderLastElectedTime": _ref(META + "Time", "LeaderLastElectedTime is used for storing the time when "
                                                         "the leader yurthub was elected."),
            "conditions": _array(_ref(NODEPOOL + "NodePoolCondition"), "Conditions represents the latest available "
                                                                       "observations of a NodePool's current "
                                                                       "state that includes LeaderHubElection "
                                                                       "status."),
        },
    }
    return {
        NODEPOOL_DEFINITION: _kind("NodePool is the Schema for the nodepools API", NODEPOOL + "NodePoolSpec",
                                   NODEPOOL + "NodePoolStatus", NODEPOOL_VERSION, "NodePool"),
        NODEPOOL_DEFINITION + "List": _list(NODEPOOL_DEFINITION, "NodePoolList contains a list of NodePool",
                                            NODEPOOL_VERSION, "NodePoolList"),
        NODEPOOL + "NodePoolSpec": spec,
        NODEPOOL + "NodePoolStatus": status,
        NODEPOOL + "NodePoolCondition": _condition("NodePool"),
        NODEPOOL + "Leader": leader,
    }


def _deployment_template_spec(k8s: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # Kubernetes' DeploymentSpec, except that the selector may be left out: the controller always adds the pool
    # label to it (as OpenYurt's does), so a template without one still yields valid Deployments.
    spec = copy.deepcopy(k8s["io.k8s.api.apps.v1.DeploymentSpec"])
    spec["required"] = [r for r in spec.get("required", []) if r != "selector"]
    spec["description"] = "The Deployment spec every pool's Deployment starts from."
    return spec


def _yurtappset(k8s: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    template_meta = _ref(META + "ObjectMeta", "Labels and annotations put on every pool's workload.")
    workload_template = {
        "description": "WorkloadTemplate defines the pool template under the YurtAppSet. YurtAppSet will provision "
                       "every pool based on one workload templates in WorkloadTemplate. WorkloadTemplate now "
                       "support statefulset and deployment. Only one of its members may be specified.",
        "type": "object",
        "properties": {
            "deploymentTemplate": _ref(YURTAPPSET + "DeploymentTemplateSpec", "Deployment template"),
            "statefulSetTemplate": _ref(YURTAPPSET + "StatefulSetTemplateSpec", "StatefulSet template"),
        },
    }
    tweaks = {
        "description": "Tweaks represents configuration to be injected. Only one of its members may be specified.",
        "type": "object",
        "properties": {
            "replicas": _int("Replicas overrides the replicas of the workload"),
            "containerImages": _array(_ref(YURTAPPSET + "ContainerImage"), "ContainerImages is a list of container "
                                                                           "images to be injected to a certain "
                                                                           "workload"),
            "patches": _array(_ref(YURTAPPSET + "Patch"), "Patches is a list of advanced tweaks to be applied to a "
                                                          "certain workload It can add/remove/replace the field "
                                                          "values of specified paths in the template."),
        },
    }
    workload_tweak = {
        "description": "WorkloadTweak Describe detailed multi-region configuration of the subject BasicTweaks and "
                       "AdvancedTweaks describe a set of nodepools and their shared or identical configurations",
        "type": "object",
        "required": ["tweaks"],
        "properties": {
            "nodepoolSelector": _ref(META + "LabelSelector", "NodePoolSelector is a label query over nodepool in "
                                                             "which workloads should be adjusted."),
            "pools": _array({"type": "string", "default": ""}, "Pools is a list of selected nodepools specified "
                                                                "with nodepool id in which workloads should be "
                                                                "adjusted. Pools is not recommended and "
                                                                "NodePoolSelector should be preferred"),
            "tweaks": _ref(YURTAPPSET + "Tweaks", "Tweaks is the adjustment can be applied to a certain workload in "
                                                  "specified nodepools such as image and replicas"),
        },
    }
    patch = {
        "description": "Patch defines the Patch",
        "type": "object",
        "required": ["path", "operation"],
        "properties": {
            "path": _string("Path represents the path in the json patch"),
            "operation": _string("Operation represents the operation", enum=["add", "remove", "replace"]),
            "value": {"description": "Indicates the value of json patch; \"{{nodepool-name}}\" in it is replaced "
                                     "by the name of the pool.", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    spec = {
        "description": "YurtAppSetSpec defines the desired state of YurtAppSet.",
        "type": "object",
        "required": ["workload"],
        "properties": {
            "workload": _ref(YURTAPPSET + "Workload", "Workload defines the workload to be deployed in the "
                                                      "nodepools"),
            "nodepoolSelector": _ref(META + "LabelSelector", "NodePoolSelector is a label query over nodepool in "
                                                             "which workloads should be deployed in. It must match "
                                                             "the nodepool's labels."),
            "pools": _array({"type": "string", "default": ""}, "Pools is a list of selected nodepools specified "
                                                                "with nodepool id in which workloads should be "
                                                                "deployed in. It is primarily used for "
                                                                "compatibility with v1alpha1 version and "
                                                                "NodePoolSelector should be preferred to choose "
                                                                "nodepools"),
            "revisionHistoryLimit": _int("Indicates the number of histories to be conserved. If unspecified, "
                                         "defaults to 10."),
        },
    }
    status = {
        "description": "YurtAppSetStatus defines the observed state of YurtAppSet.",
        "type": "object",
        "properties": {
            "observedGeneration": _int("ObservedGeneration is the most recent generation observed for this "
                                       "YurtAppSet. It corresponds to the YurtAppSet's generation, which is "
                                       "updated on mutation by the API Server.", "int64"),
            "collisionCount": _int("Count of hash collisions for the YurtAppSet."),
            "currentRevision": _string("CurrentRevision, if not empty, indicates the current version of the "
                                       "YurtAppSet."),
            "conditions": _array(_ref(YURTAPPSET + "YurtAppSetCondition"), "Represents the latest available "
                                                                           "observations of a YurtAppSet's current "
                                                                           "state."),
            "readyWorkloads": _int("The number of ready workloads."),
            "updatedWorkloads": _int("The number of updated workloads."),
            "totalWorkloads": _int("TotalWorkloads is the most recently observed number of workloads."),
        },
    }
    return {
        YURTAPPSET_DEFINITION: _kind("YurtAppSet is the Schema for the YurtAppSets API", YURTAPPSET + "YurtAppSetSpec",
                                     YURTAPPSET + "YurtAppSetStatus", YURTAPPSET_VERSION, "YurtAppSet"),
        YURTAPPSET_DEFINITION + "List": _list(YURTAPPSET_DEFINITION, "YurtAppSetList contains a list of YurtAppSet",
                                              YURTAPPSET_VERSION, "YurtAppSetList"),
        YURTAPPSET + "YurtAppSetSpec": spec,
        YURTAPPSET + "YurtAppSetStatus": status,
        YURTAPPSET + "YurtAppSetCondition": _condition("YurtAppSet"),
        YURTAPPSET + "Workload": {
            "description": "Workload defines the workload to be deployed in the nodepools",
            "type": "object",
            "required": ["workloadTemplate"],
            "properties": {
                "workloadTemplate": _ref(YURTAPPSET + "WorkloadTemplate", "WorkloadTemplate defines the pool "
                                                                          "template under the YurtAppSet."),
                "workloadTweaks": _array(_ref(YURTAPPSET + "WorkloadTweak"), "WorkloadTweaks defines the "
                                                                             "customization that will be applied "
                                                                             "to certain workloads in specified "
                                                                             "nodepools."),
            },
        },
        YURTAPPSET + "WorkloadTemplate": workload_template,
        YURTAPPSET + "DeploymentTemplateSpec": {
            "description": "DeploymentTemplateSpec defines the pool template of Deployment.",
            "type": "object",
            "required": ["spec"],
            "properties": {"metadata": template_meta, "spec": _deployment_template_spec(k8s)},
        },
        YURTAPPSET + "StatefulSetTemplateSpec": {
            "description": "StatefulSetTemplateSpec defines the pool template of StatefulSet.",
            "type": "object",
            "required": ["spec"],
            "properties": {
                "metadata": template_meta,
                "spec": {"description": "The StatefulSet spec every pool's StatefulSet starts from.",
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        YURTAPPSET + "WorkloadTweak": workload_tweak,
        YURTAPPSET + "Tweaks": tweaks,
        YURTAPPSET + "ContainerImage": {
            "description": "ContainerImage specifies the corresponding container and the target image",
            "type": "object",
            "required": ["name", "targetImage"],
            "properties": {
                "name": _string("Name represents name of the container in which the Image will be replaced"),
                "targetImage": _string("TargetImage represents the image name which is injected into the "
                                       "container above"),
            },
        },
        YURTAPPSET + "Patch": patch,
    }


def openyurt_definitions(k8s: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The apps.openyurt.io definitions, given Kubernetes' (which they refer to and partly reuse)."""
    return {**_nodepool(), **_yurtappset(k8s)}
