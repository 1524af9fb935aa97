"""edgeplane: a Kubernetes-compatible control plane for edge nodes, IoT devices and edge stream analytics."""

__version__ = "0.1.0"
