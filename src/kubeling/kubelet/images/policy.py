"""Image pull policy and the kubelet image manager's messages (pure, no I/O).

Ported from pkg/apis/core/v1/defaults.go (SetDefaults_Container) and
pkg/kubelet/images/image_manager.go so events read exactly like upstream's.
"""

from __future__ import annotations

from ...api.goduration import seconds_duration
from .reference import ReferenceError, parse_image_name

ALWAYS = "Always"
IF_NOT_PRESENT = "IfNotPresent"
NEVER = "Never"

# Waiting reasons (pkg/kubelet/images/types.go).
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
ERR_INVALID_IMAGE_NAME = "InvalidImageName"


def default_pull_policy(image: str) -> str:
    """`:latest` or no tag (and no digest) → Always, anything else → IfNotPresent.

    A digest-only reference (`nginx@sha256:…`) is IfNotPresent; `nginx:latest@sha256:…`
    is Always, because upstream only looks at the tag. Unparseable names get
    IfNotPresent (upstream ignores the error; validation rejects them elsewhere).
    """
    try:
        _, tag, _ = parse_image_name(image)
    except ReferenceError:
        tag = ""
    return ALWAYS if tag == "latest" else IF_NOT_PRESENT


def needs_pull(policy: str, present: bool) -> bool:
    """Port of shouldPullImage: Never never pulls; Always always; IfNotPresent when absent."""
    if policy == NEVER:
        return False
    return policy == ALWAYS or (policy == IF_NOT_PRESENT and not present)


def msg_pulling(image: str) -> str:
    return f'Pulling image "{image}"'


def msg_pulled(image: str, pull_seconds: float, total_seconds: float, size: int) -> str:
    """The Normal/Pulled event after a pull (reason `Pulled`)."""
    return (f'Successfully pulled image "{image}" in {seconds_duration(pull_seconds, truncate=True)} '
            f"({seconds_duration(total_seconds, truncate=True)} including waiting). Image size: {size} bytes.")


def msg_present(image: str) -> str:
    """The Normal/Pulled event when no pull is needed."""
    return f'Container image "{image}" already present on machine'


def msg_never_pull(image: str) -> str:
    """Warning/ErrImageNeverPull and the waiting message for policy Never."""
    return f'Container image "{image}" is not present with pull policy of Never'


def msg_failed(image: str, err: str) -> str:
    """Warning/Failed: `Failed to pull image "nginx:1.161": rpc error: code = NotFound desc = …`."""
    return f'Failed to pull image "{image}": {err}'


def msg_invalid_name(image: str, err: Exception) -> str:
    """Warning/InspectFailed and the InvalidImageName waiting message: the image manager's
    applyDefaultImageTag failed (`couldn't parse image name "NGINX:Bad Tag": invalid reference
    format: repository name (library/NGINX) must be lowercase`)."""
    return f'Failed to apply default image tag "{image}": {err}'


def check_image_name(image: str) -> None:
    """applyDefaultImageTag's parse (parsers.ParseImageName): raises ReferenceError with
    upstream's message for a name no registry could serve; such an image is never pulled."""
    parse_image_name(image)


def msg_backoff(image: str) -> str:
    """Normal/BackOff while the pull is backing off (waiting reason ImagePullBackOff)."""
    return f'Back-off pulling image "{image}"'
