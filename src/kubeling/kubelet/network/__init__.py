"""Pod networking via CNI (bridge + host-local + loopback + portmap from containernetworking-plugins).

    net = PodNetwork(data_dir, pod_cidr=node.spec.podCIDR)      # bridge kubeling0 by default
    await net.setup_host()                                      # bridge, routes, sysctls, masquerade
    netns_path, ips = await net.add(uid, namespace, name, ports) # ports: pod ports[] with hostPort
    await net.remove(uid)                                       # idempotent
    net.list_netns()                                            # re-adopt after a restart
    await net.teardown_host()

Errors are `NetworkError(reason, message)`; reason is the event reason
(NetworkPluginNotReady, FailedCreatePodSandBox, FailedKillPod).
"""

from .cni import CNIPluginError, NetworkError
from .podnet import (DEFAULT_BRIDGE, DEFAULT_CLUSTER_CIDR, DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR, PodNetStatus,
                     PodNetwork, cni_dir)

__all__ = ["PodNetwork", "PodNetStatus", "NetworkError", "CNIPluginError", "cni_dir", "DEFAULT_BRIDGE",
           "DEFAULT_POD_CIDR", "DEFAULT_CLUSTER_CIDR", "DEFAULT_SERVICE_CIDR"]
