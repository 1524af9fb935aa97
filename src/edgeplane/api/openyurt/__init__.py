"""OpenYurt's apps.openyurt.io kinds served as built-ins: NodePool (v1beta2) and YurtAppSet (v1beta1).

The well-known labels and annotations are OpenYurt's own, so nodes, pools and workloads written for OpenYurt
carry the same meaning here.
"""

from __future__ import annotations

GROUP = "apps.openyurt.io"
NODEPOOL_VERSION = "v1beta2"
YURTAPPSET_VERSION = "v1beta1"
NODEPOOL_API_VERSION = f"{GROUP}/{NODEPOOL_VERSION}"
YURTAPPSET_API_VERSION = f"{GROUP}/{YURTAPPSET_VERSION}"

# A node joins a pool by carrying this label, valued with the pool's name.
NODEPOOL_LABEL = "apps.openyurt.io/nodepool"
# On a node: JSON of the labels, annotations and taints its pool put there, so they can be taken off again.
PREVIOUS_ATTRIBUTES_ANNOTATION = "nodepool.openyurt.io/previous-attributes"
# On a pool: its type in lower case; on a node of a hostNetwork pool: "true".
NODEPOOL_TYPE_LABEL = "nodepool.openyurt.io/type"
NODEPOOL_HOSTNETWORK_LABEL = "nodepool.openyurt.io/hostnetwork"

# On the workloads a YurtAppSet creates.
POOL_NAME_LABEL = "apps.openyurt.io/pool-name"
REVISION_HASH_LABEL = "apps.openyurt.io/controller-revision-hash"
YURTAPPSET_OWNER_LABEL = "apps.openyurt.io/yurtappset-owner"
REF_NODEPOOL_ANNOTATION = "apps.openyurt.io/ref-nodepool"
