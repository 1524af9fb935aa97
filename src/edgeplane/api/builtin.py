"""The built-in kinds edgeplane serves, described as Kubernetes reports them in discovery."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from edgeplane.api import defaults, names, tables
from edgeplane.api.fields import getters_for
from edgeplane.api.metadata import NameCheck
from edgeplane.api.openyurt import GROUP as OPENYURT
from edgeplane.api.openyurt import NODEPOOL_VERSION, YURTAPPSET_VERSION
from edgeplane.api.openyurt import defaults as openyurt_defaults
from edgeplane.api.openyurt import tables as openyurt_tables
from edgeplane.api.openyurt.rules import validate_nodepool, validate_yurtappset
from edgeplane.api.openyurt.schemas import NODEPOOL_DEFINITION, YURTAPPSET_DEFINITION
from edgeplane.api.registry import ResourceType
from edgeplane.api.rules import Rule
from edgeplane.api.rules import core as core_rules
from edgeplane.api.rules.pods import validate_pod
from edgeplane.api.rules.workloads import validate_daemonset, validate_deployment, validate_replicaset
from edgeplane.api.schema import definitions
from edgeplane.api.structural import Compiler, Validator

CORE, APPS = "io.k8s.api.core.v1.", "io.k8s.api.apps.v1."
CRD_DEFINITION = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
REPLICAS = (".spec.replicas", ".status.replicas", None)


@functools.cache
def _compiler() -> Compiler:
    # One compiler for all built-ins, so shared definitions (ObjectMeta, PodSpec...) compile once.
    return Compiler(definitions(), structural=False)


def _validator_for(definition: str) -> Callable[[], Validator]:
    return lambda: _compiler().compile({"$ref": "#/components/schemas/" + definition})


def _kind(
    group: str,
    version: str,
    kind: str,
    plural: str,
    definition: str,
    printer: tables.TablePrinter,
    *,
    namespaced: bool = True,
    name_check: NameCheck = names.dns1123_subdomain,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    subresources: tuple[str, ...] = (),
    rules: Rule | None = None,
    defaulter: Callable[[dict[str, Any]], None] | None = None,
    scale: tuple[str, str, str | None] | None = None,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        definition_name=definition,
        printer=printer,
        name_check=name_check,
        short_names=short,
        categories=categories,
        subresources=frozenset(subresources),
        rules=rules,
        defaulter=defaulter,
        field_getters=getters_for(group, kind),
        scale=scale,
        compile_validator=_validator_for(definition),
    )


def builtin_types() -> list[ResourceType]:
    """Fresh ResourceTypes for every built-in kind, in discovery order."""
    from edgeplane.api.crd import defaults as crd_defaults
    from edgeplane.api.crd import validate_crd

    return [
        _kind("", "v1", "Namespace", "namespaces", CORE + "Namespace", tables.NAMESPACES, namespaced=False,
              name_check=names.dns1123_label, short=("ns",), rules=core_rules.validate_namespace, defaulter=defaults.namespace),
        _kind("", "v1", "Node", "nodes", CORE + "Node", tables.NODES, namespaced=False, short=("no",),
              subresources=("status",), rules=core_rules.validate_node, defaulter=defaults.node),
        _kind("", "v1", "Pod", "pods", CORE + "Pod", tables.PODS, short=("po",), categories=("all",),
              subresources=("status", "binding", "log", "exec", "attach", "portforward"),
              rules=validate_pod, defaulter=defaults.pod),
        _kind("", "v1", "ConfigMap", "configmaps", CORE + "ConfigMap", tables.CONFIGMAPS, short=("cm",),
              rules=core_rules.validate_configmap),
        _kind("", "v1", "Secret", "secrets", CORE + "Secret", tables.SECRETS, rules=core_rules.validate_secret,
              defaulter=defaults.secret),
        _kind("", "v1", "Service", "services", CORE + "Service", tables.SERVICES, name_check=names.dns1035_label,
              short=("svc",), categories=("all",), subresources=("status",),
              rules=core_rules.validate_service, defaulter=defaults.service),
        _kind("", "v1", "Event", "events", CORE + "Event", tables.EVENTS, short=("ev",),
              rules=core_rules.validate_event),
        _kind("", "v1", "ServiceAccount", "serviceaccounts", CORE + "ServiceAccount", tables.SERVICEACCOUNTS,
              short=("sa",)),
        _kind("apps", "v1", "Deployment", "deployments", APPS + "Deployment", tables.DEPLOYMENTS,
              short=("deploy",), categories=("all",), subresources=("status", "scale"),
              rules=validate_deployment, defaulter=defaults.deployment, scale=REPLICAS),
        _kind("apps", "v1", "ReplicaSet", "replicasets", APPS + "ReplicaSet", tables.REPLICASETS, short=("rs",),
              categories=("all",), subresources=("status", "scale"), rules=validate_replicaset,
              defaulter=defaults.replicaset, scale=REPLICAS),
        _kind("apps", "v1", "DaemonSet", "daemonsets", APPS + "DaemonSet", tables.DAEMONSETS, short=("ds",),
              categories=("all",), subresources=("status",), rules=validate_daemonset,
              defaulter=defaults.daemonset),
        _kind("coordination.k8s.io", "v1", "Lease", "leases", "io.k8s.api.coordination.v1.Lease", tables.LEASES,
              rules=core_rules.validate_lease),
        _kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
              CRD_DEFINITION, tables.DEFAULT, namespaced=False, short=("crd", "crds"), subresources=("status",),
              rules=validate_crd, defaulter=crd_defaults),
        # OpenYurt's kinds; a NodePool's name is a node label value, hence a DNS label.
        _kind(OPENYURT, NODEPOOL_VERSION, "NodePool", "nodepools", NODEPOOL_DEFINITION, openyurt_tables.NODEPOOLS,
              namespaced=False, name_check=names.dns1123_label, short=("np",), categories=("yurt",),
              subresources=("status",), rules=validate_nodepool, defaulter=openyurt_defaults.nodepool),
        _kind(OPENYURT, YURTAPPSET_VERSION, "YurtAppSet", "yurtappsets", YURTAPPSET_DEFINITION,
              openyurt_tables.YURTAPPSETS, short=("yas",), categories=("yurt",), subresources=("status",),
              rules=validate_yurtappset, defaulter=openyurt_defaults.yurtappset),
    ]


# Subresource kinds, for OpenAPI and for validating subresource bodies.
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str, str]] = {
    # subresource: (group, version, kind, definition)
    "scale": ("autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
    "binding": ("", "v1", "Binding", CORE + "Binding"),
    "eviction": ("policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction"),
}


def object_meta_validator() -> Validator:
    """Kubernetes' ObjectMeta validator (custom resources' metadata is checked against it too)."""
    return _validator_for("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")()


def subresource_validator(subresource: str) -> Validator:
    """The structural validator for a subresource body (Scale, Binding, Eviction)."""
    return _validator_for(SUBRESOURCE_KINDS[subresource][3])()
