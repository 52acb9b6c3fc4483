#!/usr/bin/env python3
"""Build src/kubeling/api/proto_messages.json: the message table of the protobuf request decoder.

Why a table: kubectl's typed clients POST `application/vnd.kubernetes.protobuf` bodies, and the
server must turn them into the same JSON an object has in JSON form. Field numbers and proto
types come from upstream `generated.proto` files; how each field shows up in JSON (its JSON name,
`omitempty`, pointer or value, `json:",inline"`) comes from the Go struct tags, because gogo
protobuf writes every non-pointer field on the wire (even "" or 0) and only the Go JSON rules say
whether it is visible.

Inputs, both read from what kubectl itself was built from (so the table matches kubectl v1.32):
  protos:  a directory of `generated.proto` texts, laid out as import paths
           (k8s.io/api/core/v1/generated.proto, ...). `extract-protos` renders them from the
           FileDescriptorProtos that gogo-protobuf registers (gzipped) in the kubectl binary;
           upstream files from kubernetes/api and kubernetes/apimachinery parse the same way.
  go tags: `go-tags` reads the Go reflection metadata (struct field names, tags, kinds) of the
           k8s API types from the kubectl binary (x86-64 ELF, non-PIE, Go >= 1.17 name layout).

Usage:
  tools/proto_to_table.py extract-protos [KUBECTL] /tmp/protos
  tools/proto_to_table.py go-tags [KUBECTL] /tmp/gotags.json
  tools/proto_to_table.py table /tmp/protos /tmp/gotags.json > src/kubeling/api/proto_messages.json
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import sys
import zlib
from typing import Any, Iterator

# Proto packages served (protobuf package -> API group; "" is the core group).
PACKAGES = {
    "k8s.io.api.core.v1": "",
    "k8s.io.api.apps.v1": "apps",
    "k8s.io.api.batch.v1": "batch",
    "k8s.io.api.autoscaling.v1": "autoscaling",
    "k8s.io.api.autoscaling.v2": "autoscaling",
    "k8s.io.api.coordination.v1": "coordination.k8s.io",
    "k8s.io.api.discovery.v1": "discovery.k8s.io",
    "k8s.io.api.events.v1": "events.k8s.io",
    "k8s.io.api.policy.v1": "policy",
    "k8s.io.api.rbac.v1": "rbac.authorization.k8s.io",
    "k8s.io.api.scheduling.v1": "scheduling.k8s.io",
    "k8s.io.api.networking.v1": "networking.k8s.io",
    "k8s.io.api.storage.v1": "storage.k8s.io",
    "k8s.io.api.authentication.v1": "authentication.k8s.io",
    "k8s.io.api.authorization.v1": "authorization.k8s.io",
    "k8s.io.api.certificates.v1": "certificates.k8s.io",
    "k8s.io.api.admissionregistration.v1": "admissionregistration.k8s.io",
    "k8s.io.api.node.v1": "node.k8s.io",
    "k8s.io.api.flowcontrol.v1": "flowcontrol.apiserver.k8s.io",
    "k8s.io.apimachinery.pkg.apis.meta.v1": "meta.k8s.io",
}
SUPPORT = (
    "k8s.io.apimachinery.pkg.util.intstr",
    "k8s.io.apimachinery.pkg.api.resource",
    "k8s.io.apimachinery.pkg.runtime",
    "k8s.io.apimachinery.pkg.runtime.schema",
)
SCALARS = {
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
}


# ---------------------------------------------------------------------------------------------
# .proto text -> messages


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.]*|\.[A-Za-z_][\w.]*|-?\d+|[{}\[\]=;<>,()]')


def parse_proto(text: str) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """Parse one proto2 file into (package, {full message name: [field, ...]})."""
    toks = _TOKEN.findall(_strip_comments(text))
    pos = 0
    package = ""
    raw: dict[str, list[dict[str, Any]]] = {}

    def skip_statement() -> None:
        nonlocal pos
        depth = 0
        while pos < len(toks):
            t = toks[pos]
            pos += 1
            if t in "{[(":
                depth += 1
            elif t in "}])":
                depth -= 1
                if depth == 0 and t == "}":
                    return
            elif t == ";" and depth == 0:
                return

    def field_options() -> None:
        nonlocal pos
        if toks[pos] == "[":
            while toks[pos] != "]":
                pos += 1
            pos += 1

    def message(prefix: str) -> None:
        nonlocal pos
        name = toks[pos]
        pos += 2  # name {
        full = f"{prefix}.{name}" if prefix else name
        fields: list[dict[str, Any]] = []
        raw[full] = fields
        while toks[pos] != "}":
            t = toks[pos]
            if t == "message":
                pos += 1
                message(full)
            elif t in ("optional", "required", "repeated"):
                ftype, fname, num = toks[pos + 1], toks[pos + 2], int(toks[pos + 4])
                pos += 5
                field_options()
                pos += 1  # ;
                fields.append({"name": fname, "number": num, "type": ftype, "repeated": t == "repeated", "scope": full})
            elif t == "map":
                # map < K , V > name = N ;
                key, val, fname, num = toks[pos + 2], toks[pos + 4], toks[pos + 6], int(toks[pos + 8])
                pos += 9
                field_options()
                pos += 1
                fields.append({"name": fname, "number": num, "type": "map", "key": key, "value": val, "scope": full})
            else:  # option, reserved, enum, extensions...
                skip_statement()
        pos += 1

    while pos < len(toks):
        t = toks[pos]
        if t == "package":
            package = toks[pos + 1]
            pos += 3
        elif t == "message":
            pos += 1
            message(package)
        else:
            skip_statement()
    return package, raw


def resolve_types(raw: dict[str, list[dict[str, Any]]]) -> None:
    """Make every message type name fully qualified (proto scoping: innermost scope first)."""
    def resolve(name: str, scope: str) -> str:
        if name in SCALARS:
            return name
        if name.startswith("."):
            return name[1:]
        parts = scope.split(".")
        while parts:
            cand = ".".join(parts) + "." + name
            if cand in raw:
                return cand
            parts.pop()
        if name in raw:
            return name
        raise SystemExit(f"unresolved type {name} in {scope}")

    for fields in raw.values():
        for f in fields:
            if f["type"] == "map":
                f["key"] = resolve(f["key"], f["scope"])
                f["value"] = resolve(f["value"], f["scope"])
            else:
                f["type"] = resolve(f["type"], f["scope"])


# ---------------------------------------------------------------------------------------------
# kubectl binary -> .proto texts (FileDescriptorProto, gzipped by gogo's RegisterFile)


def _varint(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _fields(b: bytes) -> Iterator[tuple[int, Any]]:
    i = 0
    while i < len(b):
        k, i = _varint(b, i)
        f, wt = k >> 3, k & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        yield f, v


_DESC_TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
               8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64",
               17: "sint32", 18: "sint64"}


def _field_desc(b: bytes) -> dict[str, Any]:
    d: dict[str, Any] = {"packed": False, "type_name": ""}
    for f, v in _fields(b):
        if f == 1:
            d["name"] = v.decode()
        elif f == 3:
            d["number"] = v
        elif f == 4:
            d["label"] = v
        elif f == 5:
            d["type"] = v
        elif f == 6:
            d["type_name"] = v.decode()
        elif f == 8:
            d["packed"] = any(ff == 2 and vv for ff, vv in _fields(v))
    return d


def _msg_desc(b: bytes) -> dict[str, Any]:
    d: dict[str, Any] = {"fields": [], "nested": [], "map_entry": False}
    for f, v in _fields(b):
        if f == 1:
            d["name"] = v.decode()
        elif f == 2:
            d["fields"].append(_field_desc(v))
        elif f == 3:
            d["nested"].append(_msg_desc(v))
        elif f == 7:
            d["map_entry"] = any(ff == 7 and vv for ff, vv in _fields(v))
    return d


def _file_desc(b: bytes) -> dict[str, Any]:
    d: dict[str, Any] = {"deps": [], "messages": [], "syntax": "proto2", "package": ""}
    for f, v in _fields(b):
        if f == 1:
            d["name"] = v.decode()
        elif f == 2:
            d["package"] = v.decode()
        elif f == 3:
            d["deps"].append(v.decode())
        elif f == 4:
            d["messages"].append(_msg_desc(v))
        elif f == 12:
            d["syntax"] = v.decode()
    return d


def _render(fd: dict[str, Any]) -> str:
    out = [f'syntax = "{fd["syntax"]}";', "", f"package {fd['package']};", ""]
    out += [f'import "{d}";' for d in fd["deps"]] + [""]

    def tname(f: dict[str, Any]) -> str:
        return _DESC_TYPES.get(f["type"]) or f["type_name"].lstrip(".")

    def msg(m: dict[str, Any], ind: str) -> None:
        out.append(f"{ind}message {m['name']} {{")
        entries = {n["name"]: n for n in m["nested"] if n["map_entry"]}
        for n in m["nested"]:
            if not n["map_entry"]:
                msg(n, ind + "  ")
        for f in m["fields"]:
            entry = entries.get(f["type_name"].rsplit(".", 1)[-1]) if f["label"] == 3 else None
            if entry:
                kv = {x["name"]: x for x in entry["fields"]}
                out.append(f"{ind}  map<{tname(kv['key'])}, {tname(kv['value'])}> {f['name']} = {f['number']};")
                continue
            label = {1: "optional", 2: "required", 3: "repeated"}[f["label"]]
            opt = " [packed = true]" if f["packed"] else ""
            out.append(f"{ind}  {label} {tname(f)} {f['name']} = {f['number']}{opt};")
        out.extend([f"{ind}}}", ""])

    for m in fd["messages"]:
        msg(m, "")
    return "\n".join(out)


def extract_protos(binary: str, outdir: str) -> None:
    data = open(binary, "rb").read()
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # what gogo's RegisterFile gzip writes
    for m in re.finditer(re.escape(gzip_header), data):
        try:
            fd = _file_desc(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 4_000_000]))
        except Exception:
            continue
        if not fd.get("name", "").endswith(".proto"):
            continue
        path = os.path.join(outdir, fd["name"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(_render(fd))


# ---------------------------------------------------------------------------------------------
# kubectl binary -> Go struct tags (reflection metadata: abi.Type / abi.StructType / abi.Name)


class _Elf:
    def __init__(self, path: str) -> None:
        self.data = open(path, "rb").read()
        d = self.data
        shoff, = struct.unpack_from("<Q", d, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
        secs = []
        for i in range(shnum):
            name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", d, shoff + i * shentsize)
            secs.append((name, typ, addr, off, size))
        strtab_off = secs[shstrndx][3]
        self.sections = {}
        for name, typ, addr, off, size in secs:
            n = d[strtab_off + name:d.index(b"\0", strtab_off + name)].decode()
            if typ != 8 and addr:  # not NOBITS
                self.sections[n] = (addr, off, size)

    def off(self, va: int) -> int:
        for addr, off, size in self.sections.values():
            if addr <= va < addr + size:
                return off + va - addr
        raise KeyError(hex(va))

    def u8(self, va: int) -> int:
        return self.data[self.off(va)]

    def i32(self, va: int) -> int:
        return struct.unpack_from("<i", self.data, self.off(va))[0]

    def u64(self, va: int) -> int:
        return struct.unpack_from("<Q", self.data, self.off(va))[0]


_GO_KINDS = {1: "bool", 2: "int", 3: "int8", 4: "int16", 5: "int32", 6: "int64", 7: "uint", 8: "uint8",
             9: "uint16", 10: "uint32", 11: "uint64", 13: "float32", 14: "float64", 17: "array",
             20: "interface", 21: "map", 22: "ptr", 23: "slice", 24: "string", 25: "struct"}


def go_tags(binary: str) -> dict[str, list[dict[str, Any]]]:
    """{"k8s.io/api/apps/v1.DeploymentSpec": [{field, tag, embedded, type}, ...]} for k8s API structs."""
    elf = _Elf(binary)
    base = elf.sections[".rodata"][0]  # moduledata.types: name/type offsets are relative to it

    def name_at(va: int) -> tuple[int, str, str]:
        flags = elf.u8(va)
        i = va + 1

        def uvarint() -> int:
            nonlocal i
            r = s = 0
            while True:
                c = elf.u8(i)
                i += 1
                r |= (c & 0x7F) << s
                s += 7
                if c < 0x80:
                    return r

        n = uvarint()
        name = elf.data[elf.off(i):elf.off(i) + n].decode("utf-8", "replace")
        i += n
        tag = ""
        if flags & 2:
            t = uvarint()
            tag = elf.data[elf.off(i):elf.off(i) + t].decode("utf-8", "replace")
        return flags, name, tag

    def type_name(va: int) -> str:
        _, nm, _ = name_at(base + elf.i32(va + 40))
        return nm[1:] if elf.u8(va + 20) & 2 else nm  # tflagExtraStar

    def pkg_path(va: int, kind: int) -> str:
        if not elf.u8(va + 20) & 1:  # tflagUncommon
            return ""
        size = {25: 80, 22: 56, 23: 56, 21: 48 + 8 * 3 + 8 + 8}.get(kind, 48)
        po = elf.i32(va + size)
        return name_at(base + po)[1] if po else ""

    def describe(va: int) -> dict[str, Any]:
        kind = elf.u8(va + 23) & 0x1F
        k = _GO_KINDS.get(kind, str(kind))
        if k in ("ptr", "slice"):
            return {"kind": k, "elem": describe(elf.u64(va + 48))}
        if k == "map":
            return {"kind": k, "key": describe(elf.u64(va + 48)), "elem": describe(elf.u64(va + 56))}
        return {"kind": k, "name": type_name(va), "pkg": pkg_path(va, kind)}

    addr, off, size = elf.sections[".rodata"]
    d = elf.data
    out: dict[str, list[dict[str, Any]]] = {}
    for p in range(0, size - 80, 8):
        if d[off + p + 23] & 0x1F != 25:
            continue
        arr, ln, cap = struct.unpack_from("<QQQ", d, off + p + 56)
        if not (0 < ln == cap < 300 and addr <= arr < addr + size):
            continue
        va = addr + p
        try:
            if not elf.u8(va + 20) & 1:
                continue
            pkg = pkg_path(va, 25)
            if not pkg.startswith(("k8s.io/api/", "k8s.io/apimachinery/")):
                continue
            fields = []
            for j in range(ln):
                sf = arr + 24 * j
                flags, fname, tag = name_at(elf.u64(sf))
                fields.append({"field": fname, "tag": tag, "embedded": bool(flags & 8),
                               "type": describe(elf.u64(sf + 8))})
            out[pkg + "." + type_name(va).split(".", 1)[-1]] = fields
        except (KeyError, IndexError, struct.error, UnicodeDecodeError):
            continue
    return out


# ---------------------------------------------------------------------------------------------
# messages + Go tags -> table


def _tag(tag: str, key: str) -> str | None:
    m = re.search(rf'(?:^|\s){key}:"([^"]*)"', tag)
    return m.group(1) if m else None


def _go_info(go: dict[str, list[dict[str, Any]]], message: str) -> dict[int, dict[str, Any]]:
    """Go struct fields of a proto message, by protobuf field number."""
    pkg, _, name = message.rpartition(".")
    fields = go.get(pkg.replace(".", "/").replace("k8s/io", "k8s.io", 1) + "." + name)
    if fields is None:
        return {}
    out = {}
    for f in fields:
        pb = _tag(f["tag"], "protobuf")
        parts = (pb or "").split(",")
        if len(parts) < 2 or not parts[1].isdigit():
            continue  # no wire field (`protobuf:"-"`, TypeMeta)
        num = int(parts[1])
        js = _tag(f["tag"], "json")
        if js is None:
            js = f["field"]
        jname, *opts = js.split(",")
        out[num] = {"json": jname, "omitempty": "omitempty" in opts, "inline": "inline" in opts,
                    "type": f["type"], "go": f["field"]}
    return out


def build_table(protodir: str, go: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    raw: dict[str, list[dict[str, Any]]] = {}
    for root, _, files in os.walk(protodir):
        for fn in files:
            if fn.endswith(".proto"):
                with open(os.path.join(root, fn)) as fh:
                    pkg, msgs = parse_proto(fh.read())
                if pkg in PACKAGES or pkg in SUPPORT:
                    raw.update(msgs)
    resolve_types(raw)

    # Keep what is reachable from the served packages.
    keep: set[str] = set()
    todo = [m for m in raw if m.rpartition(".")[0] in PACKAGES]
    while todo:
        m = todo.pop()
        if m in keep:
            continue
        keep.add(m)
        for f in raw[m]:
            for t in (f["type"], f.get("value", "")):
                if t in raw:
                    todo.append(t)

    messages: dict[str, dict[str, list[Any]]] = {}
    lists: list[str] = []
    warnings: list[str] = []
    for m in sorted(keep):
        info = _go_info(go, m)
        fs = raw[m]
        wrapper = len(fs) == 1 and fs[0]["name"] == "items" and fs[0]["number"] == 1 and fs[0].get("repeated")
        if wrapper and not (go and info):
            lists.append(m)  # e.g. `type ExtraValue []string`: a named slice (no Go struct), JSON is the list
            info = {1: {"json": "items", "omitempty": True, "inline": False, "type": {"kind": "slice"}}}
        entry: dict[str, list[Any]] = {}
        for f in fs:
            gi = info.get(f["number"])
            flags = ""
            if f["type"] == "map":
                flags += "m"
            elif f.get("repeated"):
                flags += "r"
            if gi is None:
                if not m.endswith((".Time", ".MicroTime", ".IntOrString", ".Quantity")):
                    warnings.append(f"{m}.{f['name']}: no Go struct tag; proto2 presence")
                flags += "po"
                jname = f["name"]
            else:
                jname = gi["json"]
                if gi["type"]["kind"] == "ptr":
                    flags += "p"
                if gi["omitempty"]:
                    flags += "o"
                if gi["inline"]:
                    flags += "i"
                    jname = ""
                elif jname != f["name"]:
                    warnings.append(f"{m}.{f['name']}: JSON name {jname!r} differs from the proto name")
            row: list[Any] = [jname, f["type"], flags]
            if f["type"] == "map":
                row += [f["key"], f["value"]]
            entry[str(f["number"])] = row
        messages[m] = entry

    kinds: dict[str, str] = {}
    for m in sorted(keep):
        pkg, _, name = m.rpartition(".")
        if pkg not in PACKAGES:
            continue
        gofields = go.get(pkg.replace(".", "/").replace("k8s/io", "k8s.io", 1) + "." + name)
        if gofields is not None:
            is_kind = any(f["field"] == "TypeMeta" and f["embedded"] for f in gofields)  # what a scheme registers
        else:
            first = raw[m][0] if raw[m] else None
            is_kind = bool(first and first["name"] == "metadata" and first["type"].endswith((".ObjectMeta", ".ListMeta")))
        if is_kind:
            group, version = PACKAGES[pkg], pkg.rpartition(".")[2]
            kinds[(f"{group}/{version}" if group else version) + "/" + name] = m
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    return {"kinds": kinds, "lists": lists, "messages": messages}


def main(argv: list[str]) -> None:
    cmd, args = argv[1], argv[2:]
    if cmd == "extract-protos":
        binary = args[0] if len(args) > 1 else shutil.which("kubectl") or "kubectl"
        extract_protos(os.path.realpath(binary), args[-1])
    elif cmd == "go-tags":
        binary = args[0] if len(args) > 1 else shutil.which("kubectl") or "kubectl"
        with open(args[-1], "w") as fh:
            json.dump(go_tags(os.path.realpath(binary)), fh, indent=1, sort_keys=True)
    elif cmd == "table":
        go = {}
        if len(args) > 1:
            with open(args[1]) as fh:
                go = json.load(fh)
        table = build_table(args[0], go)
        # one message per line: diffable, still compact
        lines = ['{"kinds": ' + json.dumps(table["kinds"], sort_keys=True) + ",",
                 ' "lists": ' + json.dumps(table["lists"]) + ",", ' "messages": {']
        names = sorted(table["messages"])
        for i, n in enumerate(names):
            sep = "," if i < len(names) - 1 else ""
            lines.append(f"  {json.dumps(n)}: {json.dumps(table['messages'][n], separators=(',', ':'))}{sep}")
        lines.append(" }}")
        print("\n".join(lines))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
