"""Service-account tokens: bound JWTs signed with the cluster's SA key, the TokenRequest
subresource (`serviceaccounts/{name}/token`) and their validation for authentication.

Same shape as upstream pkg/serviceaccount (claims.go, jwt.go): ES256 over an EC P-256 key, `kid`
derived from the public key, issuer https://kubernetes.default.svc.cluster.local, private claims
under `kubernetes.io` ({namespace, serviceaccount, pod, node, warnafter}), plus `jti`. A token is
valid while its signature, issuer, audience and times check out and the ServiceAccount (and the
pod it is bound to) still exists with the uid recorded in it.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import parse_rfc3339, rfc3339

if TYPE_CHECKING:
    from ..store.base import Entry

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
WARN_ONLY_EXPIRATION_SECONDS = 3607  # what the SA admission asks for in kube-api-access volumes
EXTENDED_EXPIRATION_SECONDS = 365 * 24 * 3600  # ExpirationExtensionSeconds: pods get a year, warned after 1 h
POD_DELETION_LEEWAY = 60

SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
PODS = lookup("", "v1", "pods")
SECRETS = lookup("", "v1", "secrets")
NODES = lookup("", "v1", "nodes")
assert SERVICE_ACCOUNTS and PODS and SECRETS and NODES


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """keyIDFromPublicKey: base64url(sha256(PKIX DER)) without padding."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated")


def _ref(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name", ""), "uid": meta.get("uid", "")}


def claims(sa: dict[str, Any], *, audiences: list[str], expiration_seconds: int, now: int, issuer: str = ISSUER,
           pod: dict[str, Any] | None = None, secret: dict[str, Any] | None = None,
           node: dict[str, Any] | None = None, warn_after: int | None = None,
           jti: str | None = None) -> dict[str, Any]:
    """token.Claims: registered claims plus the `kubernetes.io` private claims."""
    meta = sa.get("metadata") or {}
    ns = meta.get("namespace", "")
    private: dict[str, Any] = {"namespace": ns, "serviceaccount": _ref(sa)}
    if pod is not None:
        private["pod"] = _ref(pod)
    if secret is not None:
        private["secret"] = _ref(secret)
    if node is not None:
        private["node"] = _ref(node)
    if warn_after is not None:
        private["warnafter"] = warn_after
    return {"aud": list(audiences), "exp": now + expiration_seconds, "iat": now, "iss": issuer,
            "jti": jti or str(uuid.uuid4()), "kubernetes.io": private, "nbf": now,
            "sub": username(ns, meta.get("name", ""))}


@dataclass(frozen=True)
class Identity:
    name: str
    groups: tuple[str, ...]
    extra: dict[str, list[str]]


class TokenIssuer:
    """Signs and validates SA tokens; reads ServiceAccounts, pods and nodes from the store."""

    def __init__(self, key_path: str, store: Any, *, issuer: str = ISSUER,
                 audiences: tuple[str, ...] = API_AUDIENCES, clock: Callable[[], float] = time.time) -> None:
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{key_path}: service-account key must be an EC P-256 key")
        self.key = key
        self.public = key.public_key()
        self.kid = key_id(self.public)
        self.store = store
        self.issuer = issuer
        self.audiences = audiences
        self.clock = clock

    # ---- JWS ------------------------------------------------------------------------------
    def sign(self, payload: dict[str, Any]) -> str:
        header = _b64(orjson.dumps({"alg": "ES256", "kid": self.kid}))
        body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
        der = self.key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The payload if the signature is ours and issuer and times are valid, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "ES256":
                return None
            sig = _unb64(parts[2])
            if len(sig) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self.public.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            payload = orjson.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        if not isinstance(payload, dict) or payload.get("iss") != self.issuer:
            return None
        now = self.clock()
        exp, nbf = payload.get("exp"), payload.get("nbf", 0)
        if not isinstance(exp, (int, float)) or now >= exp or (isinstance(nbf, (int, float)) and now + 60 < nbf):
            return None
        aud = payload.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not set(auds) & set(self.audiences):
            return None
        return payload

    # ---- OIDC discovery (ServiceAccountIssuerDiscovery) ------------------------------------
    def openid_configuration(self, jwks_uri: str) -> bytes:
        """/.well-known/openid-configuration: lets a relying party verify our tokens."""
        return orjson.dumps({"issuer": self.issuer, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
                             "subject_types_supported": ["public"],
                             "id_token_signing_alg_values_supported": ["ES256"]})

    def jwks(self) -> bytes:
        """/openid/v1/jwks: the public key as a JWK set (go-jose's field order)."""
        nums = self.public.public_numbers()
        key = {"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
               "x": _b64(nums.x.to_bytes(32, "big")), "y": _b64(nums.y.to_bytes(32, "big"))}
        return orjson.dumps({"keys": [key]})

    # ---- authentication -------------------------------------------------------------------
    def _get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        e: Entry | None = self.store.get(res.key(namespace, name))
        return e.obj() if e is not None else None

    def authenticate(self, token: str) -> Identity | None:
        """validator.Validate: the token's objects must still exist with the same uids."""
        payload = self.verify(token)
        if payload is None:
            return None
        private = payload.get("kubernetes.io")
        if not isinstance(private, dict):
            return None
        ns = private.get("namespace")
        sa_ref = private.get("serviceaccount") or {}
        if not ns or not isinstance(sa_ref, dict) or payload.get("sub") != username(ns, sa_ref.get("name", "")):
            return None
        sa = self._get(SERVICE_ACCOUNTS, ns, sa_ref.get("name", ""))
        if sa is None or sa["metadata"].get("uid") != sa_ref.get("uid") or sa["metadata"].get("deletionTimestamp"):
            return None
        extra: dict[str, list[str]] = {"authentication.kubernetes.io/credential-id": [f"JTI={payload.get('jti', '')}"]}
        for kind, res in (("pod", PODS), ("secret", SECRETS)):
            ref = private.get(kind)
            if not isinstance(ref, dict):
                continue
            obj = self._get(res, ns, ref.get("name", ""))
            if obj is None or obj["metadata"].get("uid") != ref.get("uid") or self._deleted_long_ago(obj):
                return None
            if kind == "pod":
                extra["authentication.kubernetes.io/pod-name"] = [ref.get("name", "")]
                extra["authentication.kubernetes.io/pod-uid"] = [ref.get("uid", "")]
        node_ref = private.get("node")
        if isinstance(node_ref, dict) and "pod" not in private:
            node = self._get(NODES, None, node_ref.get("name", ""))
            if node is None or node["metadata"].get("uid") != node_ref.get("uid"):
                return None
        if isinstance(node_ref, dict):
            extra["authentication.kubernetes.io/node-name"] = [node_ref.get("name", "")]
            extra["authentication.kubernetes.io/node-uid"] = [node_ref.get("uid", "")]
        return Identity(username(ns, sa_ref["name"]), groups(ns), extra)

    def _deleted_long_ago(self, obj: dict[str, Any]) -> bool:
        deleted = parse_rfc3339(obj["metadata"].get("deletionTimestamp"))
        return deleted is not None and deleted + POD_DELETION_LEEWAY < self.clock()

    # ---- TokenRequest ---------------------------------------------------------------------
    def token_request(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """POST serviceaccounts/{name}/token (TokenREST.Create), answering a TokenRequest.

        `body` has been decoded as a TokenRequest (apiserver/decoding.py), so its fields are typed.
        """
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        spec = body.get("spec") or {}
        exp_s = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
        if exp_s < MIN_EXPIRATION_SECONDS:
            raise self._invalid(name, exp_s, "may not specify a duration less than 10 minutes")
        if exp_s > MAX_EXPIRATION_SECONDS:
            raise self._invalid(name, exp_s, "may not specify a duration larger than 2^32 seconds")
        sa = self._get(SERVICE_ACCOUNTS, namespace, name)
        if sa is None:
            raise errors.not_found("serviceaccounts", name)
        pod = secret = node = None
        ref = spec.get("boundObjectRef")
        if ref:
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind, ref_name = ref.get("kind", ""), ref.get("name", "")
            if group == "" and kind == "Pod":
                pod = self._get(PODS, namespace, ref_name)
                if pod is None:
                    raise errors.not_found("pods", ref_name)
                pod_sa = (pod.get("spec") or {}).get("serviceAccountName", "")
                if pod_sa != name:
                    raise errors.bad_request(f"cannot bind token for serviceaccount \"{name}\" to pod running with "
                                             f"different serviceaccount name.")
                bound = pod
                node_name = (pod.get("spec") or {}).get("nodeName")
                if node_name:
                    node = self._get(NODES, None, node_name)
            elif group == "" and kind == "Secret":
                secret = bound = self._get(SECRETS, namespace, ref_name)
                if secret is None:
                    raise errors.not_found("secrets", ref_name)
            elif group == "" and kind == "Node":
                node = bound = self._get(NODES, None, ref_name)
                if node is None:
                    raise errors.not_found("nodes", ref_name)
            else:
                gvk = f"{ref.get('apiVersion', '')}, Kind={kind}" if "/" in (ref.get("apiVersion") or "") \
                    else f"/{ref.get('apiVersion', '')}, Kind={kind}"
                raise errors.bad_request(f"cannot bind token to object of type {gvk}")
            uid = bound["metadata"].get("uid", "")
            if ref.get("uid") and ref["uid"] != uid:
                raise errors.conflict(kind, ref_name, group,
                                      f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
                                      f"in record ({uid}). The object might have been deleted and then recreated")
        audiences = spec.get("audiences") or list(self.audiences)
        now = int(self.clock())
        token_exp, warn_after = exp_s, None
        if pod is not None and exp_s == WARN_ONLY_EXPIRATION_SECONDS and set(audiences) <= set(self.audiences):
            token_exp, warn_after = EXTENDED_EXPIRATION_SECONDS, now + exp_s
        payload = claims(sa, audiences=audiences, expiration_seconds=token_exp, now=now, issuer=self.issuer,
                         pod=pod, secret=secret, node=node, warn_after=warn_after)
        meta = body.get("metadata") or {}
        return {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {**meta, "name": meta.get("name") or name, "namespace": meta.get("namespace") or namespace,
                         "creationTimestamp": meta.get("creationTimestamp")},
            "spec": {**spec, "audiences": audiences, "expirationSeconds": exp_s,
                     "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": self.sign(payload), "expirationTimestamp": rfc3339(now + exp_s)},
        }

    @staticmethod
    def _invalid(name: str, value: int, why: str) -> errors.StatusError:
        return errors.invalid("TokenRequest", name, "authentication.k8s.io", [errors.field_cause(
            "FieldValueInvalid", "spec.expirationSeconds",
            f"spec.expirationSeconds: Invalid value: {value}: {why}")])
