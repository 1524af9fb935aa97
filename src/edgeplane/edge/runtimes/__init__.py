"""Container runtimes for edge pods: ``process`` (default) and ``podman``."""
