"""Volumes of the kubelet: emptyDir, hostPath, configMap, secret, downwardAPI and projected
(service-account tokens), the atomic writer behind them, subPath, and container env resolution."""

from .env import resolve_env
from .manager import VolumeError, VolumeManager

__all__ = ["VolumeError", "VolumeManager", "resolve_env"]
