"""Image references, parsed and normalized exactly like distribution/reference.

`nginx` → `docker.io/library/nginx:latest`; `localhost:5000/x/y@sha256:…` keeps its
host. The kubelet needs the same answers as upstream because the default pull policy
and the `image` shown in pod status both depend on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_NAME_SPLIT_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}


class ReferenceError(ValueError):
    """An image reference that upstream would reject; str() is upstream's message."""


@dataclass(frozen=True)
class Reference:
    """A normalized reference: domain + path, with a tag and/or a digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """`docker.io/library/nginx` — what containerd indexes images by (without tag)."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def object(self) -> str:
        """What goes after `/manifests/` in a registry URL: the digest wins over the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_default_tag(self) -> "Reference":
        """Upstream TagNameOnly: add `:latest` only when there is neither tag nor digest."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, "")

    def with_digest(self, digest: str) -> "Reference":
        """`name@digest` (no tag): a repo digest as `kubectl describe` shows in Image ID."""
        return Reference(self.domain, self.path, "", digest)

    def familiar(self) -> str:
        """Docker's short form: `docker.io/library/nginx:1.14.2` → `nginx:1.14.2`."""
        name = self.name
        if self.domain == DEFAULT_DOMAIN:
            name = self.path[len(OFFICIAL_REPO_PREFIX):] if self.path.startswith(OFFICIAL_REPO_PREFIX) and \
                self.path.count("/") == 1 else self.path
        if self.tag:
            name += ":" + self.tag
        if self.digest:
            name += "@" + self.digest
        return name


def _split_docker_domain(name: str) -> tuple[str, str]:
    """Port of splitDockerDomain: a first component is a host only if it looks like one."""
    i = name.find("/")
    first = name[:i] if i >= 0 else ""
    if i == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def validate_digest(digest: str) -> None:
    """Reject a digest whose algorithm is unknown or whose hex has the wrong length."""
    algo, _, hexpart = digest.partition(":")
    if algo not in _DIGEST_HEX_LEN:
        raise ReferenceError("unsupported digest algorithm")
    if len(hexpart) != _DIGEST_HEX_LEN[algo] or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise ReferenceError("invalid checksum digest format")


def _parse(s: str) -> Reference:
    """Port of reference.Parse on an already domain-qualified string."""
    m = _REFERENCE_RE.match(s)
    if m is None:
        if s == "":
            raise ReferenceError("repository name must have at least one component")
        if _REFERENCE_RE.match(s.lower()) is not None:
            raise ReferenceError("repository name must be lowercase")
        raise ReferenceError("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        validate_digest(digest)
    nm = _NAME_SPLIT_RE.match(name)
    assert nm is not None
    return Reference(nm.group(1) or "", nm.group(2), tag, digest)


def parse(s: str) -> Reference:
    """Port of ParseNormalizedNamed: `nginx` → docker.io/library/nginx (no tag added)."""
    if _IDENTIFIER_RE.match(s):
        raise ReferenceError(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(s)
    tag_sep = remainder.find(":")
    remote = remainder[:tag_sep] if tag_sep > -1 else remainder
    if remote.lower() != remote:
        raise ReferenceError(f"invalid reference format: repository name ({remote}) must be lowercase")
    return _parse(domain + "/" + remainder)


def normalize(s: str) -> Reference:
    """parse + default tag: the fully qualified form containerd stores (`…/nginx:latest`)."""
    return parse(s).with_default_tag()


def parse_image_name(image: str) -> tuple[str, str, str]:
    """Port of kubelet parsers.ParseImageName → (repository, tag, digest); tag defaults to latest."""
    try:
        ref = parse(image)
    except ReferenceError as e:
        raise ReferenceError(f'couldn\'t parse image name "{image}": {e}') from None
    tag = ref.tag
    if not tag and not ref.digest:
        tag = DEFAULT_TAG
    return ref.name, tag, ref.digest
