"""kubeling: Kubernetes in Python."""

__version__ = "0.1.0"
KUBE_VERSION = "v1.32.0"
GIT_VERSION = f"{KUBE_VERSION}-kubeling.{__version__}"
