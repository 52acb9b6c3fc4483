"""CEL for the API server (upstream k8s.io/apiserver/pkg/cel), on the `cel-python` interpreter.

One place compiles and runs every CEL expression: ValidatingAdmissionPolicy validations,
variables and match conditions, webhook matchConditions, and CRD `x-kubernetes-validations`.

- `compile(expression, variables)` parses once per (expression, declared variables) (an LRU
  cache) and refuses references to undeclared variables at compile time, as cel-go's checker
  does, with cel-go's error text (`ERROR: <input>:1:1: undeclared reference to 'x' (in container '')`
  and the source line with a caret under it).
- `Program.evaluate(activation)` runs it over plain JSON values and returns plain Python values.
  Every failure is an `EvalError` (never another exception): callers turn it into a denial or a
  422, never into a 500.
- Cost: each operation (a field selection, an index, a call, an operator, a literal) costs 1, as
  cel-go's runtime cost roughly does, and a concatenation or call that builds a string or list
  costs also a tenth of its size (cel-go's AddString: ceil((m + n) * 0.1)); an evaluation stops with upstream's `operation cancelled:
  actual cost limit exceeded` past `PER_CALL_LIMIT`. Upstream's PerCallLimit is 1,000,000, but
  this interpreter spends ~0.1-0.4 ms per operation (cel-go: ~100 ns), so one request could hold
  the API server's loop for minutes: the limit is 10,000 operations (measured: 50,000 took 13 s
  on the shared 2-core machine), still ~1,000 steps of a typical comprehension per call. Expressions of one request share
  `REQUEST_LIMIT` (upstream's RuntimeCELCostBudget, ten calls' worth).
- Kubernetes' CEL libraries beyond the CEL standard are added as functions: the strings
  extension (`charAt`, `indexOf`, `lastIndexOf`, `lowerAscii`, `upperAscii`, `replace`, `split`,
  `substring`, `trim`, `join`), the lists library (`isSorted`, `sum`, `min`, `max`, `indexOf`,
  `lastIndexOf`), the regex library (`find`, `findAll`, on Go's regexp: api/goregexp.py) and
  the quantity library (`quantity`, `isQuantity`, `isGreaterThan`, `isLessThan`, `compareTo`, `add`, `sub`, `sign`, `isInteger`,
  `asInteger`, `asApproximateFloat`). Not supported: the optional syntax (`a.?b`,
  `optional.of`, the parser has no grammar for it), `url()`, `ip()`, `cidr()`. The authorizer
  library (`authorizer.group(...).resource(...).check(verb).allowed()`) is api/celauthz.py.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

import celpy
import celpy.evaluation
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import Activation, CELEvalError, Evaluator, base_functions

from . import celauthz
from .goregexp import RegexpError, compile_pattern
from .quantity import Quantity, QuantityError, new_quantity, parse_quantity

logging.getLogger("celpy").setLevel(logging.WARNING)  # its debug logging costs more than evaluating


class _Erased:
    """celpy's evaluator writes `cast(Tuple[...], x)` in its hot paths: each subscript of a typing
    generic hashes a Union, which was 70 % of evaluation time (3 ms per comprehension step)."""

    def __getitem__(self, _: Any) -> "_Erased":
        return self


for _name in ("Callable", "Dict", "Iterable", "List", "Optional", "Tuple", "Type", "Union"):
    setattr(celpy.evaluation, _name, _Erased())
celpy.evaluation.cast = lambda _type, value: value

MAX_NESTING = 32  # nested expressions (parentheses, arguments, macro bodies) per expression
PER_CALL_LIMIT = 10_000  # operations (upstream celconfig.PerCallLimit is 1,000,000 of cel-go's units)
REQUEST_LIMIT = 10 * PER_CALL_LIMIT  # upstream celconfig.RuntimeCELCostBudget is 10 per-call limits
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
STRING_TRAVERSAL_COST_FACTOR = 0.1  # cel-go common.StringTraversalCostFactor
_SIZED = frozenset({"addition", "member_dot_arg", "ident_arg"})  # operators and calls that may build strings
_PASS_THROUGH = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication",
                           "unary", "member", "primary", "exprlist", "literal"})


class CompileError(ValueError):
    """An expression that does not compile; `str()` is cel-go's issue text."""


class EvalError(Exception):
    """An evaluation that failed (no such key, overflow, bad overload, cost limit...)."""


class _Budget(BaseException):  # not an Exception: celpy must not turn it into a value
    pass


# ---- Kubernetes' libraries (strings, lists, regex) -------------------------------------------

def _s(v: Any) -> celtypes.StringType:
    if not isinstance(v, str):
        raise TypeError("no such overload")
    return celtypes.StringType(v)


def _index_of(target: Any, item: Any, start: Any = 0) -> celtypes.IntType:
    if isinstance(target, str):
        return celtypes.IntType(str(target).find(_s(item), int(start)))
    items = list(target)
    return celtypes.IntType(items.index(item) if item in items else -1)


def _last_index_of(target: Any, item: Any, end: Any = None) -> celtypes.IntType:
    if isinstance(target, str):
        text = str(target)
        return celtypes.IntType(text.rfind(_s(item), 0, len(text) if end is None else int(end) + len(item)))
    items = list(target)
    return celtypes.IntType(len(items) - 1 - items[::-1].index(item) if item in items else -1)


def _replace(s: Any, old: Any, new: Any, n: Any = -1) -> celtypes.StringType:
    return celtypes.StringType(_s(s).replace(_s(old), _s(new), int(n)))


def _split(s: Any, sep: Any, n: Any = -1) -> celtypes.ListType:
    n = int(n)
    if n == 0:
        return celtypes.ListType([])
    parts = list(_s(s)) if sep == "" else _s(s).split(_s(sep), n - 1 if n > 0 else -1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    text = _s(s)
    stop = len(text) if end is None else int(end)
    if not 0 <= int(start) <= stop <= len(text):
        return CELEvalError(f"index out of range: {start if int(start) > len(text) or int(start) < 0 else stop}")
    return celtypes.StringType(text[int(start):stop])


def _join(items: Any, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(_s(sep).join(_s(i) for i in items))


def _sum(items: Any) -> Any:
    items = list(items)
    if not items:
        return celtypes.IntType(0)
    total = items[0]
    for i in items[1:]:
        total = total + i
    return total


def _is_sorted(items: Any) -> celtypes.BoolType:
    items = list(items)
    return celtypes.BoolType(all(a <= b for a, b in zip(items, items[1:])))


def _max(items: Any) -> Any:
    items = list(items)
    if not items:
        raise ValueError("max of an empty list")
    return max(items)


def _find(s: Any, pattern: Any) -> Any:
    """Go's regexp (RE2, linear time): Python's backtracking `re` let one label hold the loop."""
    try:
        m = compile_pattern(_s(pattern)).search(_s(s))
    except RegexpError as e:
        return CELEvalError(str(e))
    return celtypes.StringType(m.group(0) if m else "")


def _find_all(s: Any, pattern: Any, n: Any = -1) -> Any:
    try:
        found = [m.group(0) for m in compile_pattern(_s(pattern)).finditer(_s(s))]
    except RegexpError as e:
        return CELEvalError(str(e))
    return celtypes.ListType([celtypes.StringType(f) for f in (found if int(n) < 0 else found[:int(n)])])


def _equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: `object != null` is true for a map (celpy raises "no such
    overload" comparing a map or a number with null, or values of different types)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return bool(base_functions["_==_"](a, b))
    except TypeError:
        return False


def _eq(a: Any, b: Any) -> Any:
    return a if isinstance(a, CELEvalError) else b if isinstance(b, CELEvalError) else celtypes.BoolType(_equal(a, b))


def _ne(a: Any, b: Any) -> Any:
    return a if isinstance(a, CELEvalError) else b if isinstance(b, CELEvalError) else celtypes.BoolType(not _equal(a, b))


def _quantity(s: Any) -> Any:
    """An error is returned as a value (celpy reports a raised ValueError as an overflow)."""
    try:
        return parse_quantity(_s(s))
    except QuantityError:
        return CELEvalError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def _is_quantity(s: Any) -> celtypes.BoolType:
    try:
        parse_quantity(_s(s))
        return celtypes.BoolType(True)
    except QuantityError:
        return celtypes.BoolType(False)


def _q(v: Any) -> Quantity:
    if isinstance(v, Quantity):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return new_quantity(int(v))
    raise TypeError("no such overload")


def _as_integer(q: Any) -> Any:
    value = _q(q).value
    if value.denominator != 1 or not -(2**63) <= value.numerator < 2**63:
        return CELEvalError("cannot convert value to integer")
    return celtypes.IntType(value.numerator)


QUANTITY_FUNCTIONS: dict[str, Any] = {  # Kubernetes' quantity library (k8s.io/apiserver/pkg/cel/library)
    "quantity": _quantity, "isQuantity": _is_quantity,
    "isGreaterThan": lambda a, b: celtypes.BoolType(_q(a) > _q(b)),
    "isLessThan": lambda a, b: celtypes.BoolType(_q(a) < _q(b)),
    "compareTo": lambda a, b: celtypes.IntType((_q(a) > _q(b)) - (_q(a) < _q(b))),
    "add": lambda a, b: _q(a) + _q(b), "sub": lambda a, b: _q(a) - _q(b),
    "sign": lambda q: celtypes.IntType(_q(q).sign()),
    "isInteger": lambda q: celtypes.BoolType(_q(q).value.denominator == 1),
    "asInteger": _as_integer, "asApproximateFloat": lambda q: celtypes.DoubleType(float(_q(q).value)),
}


FUNCTIONS: dict[str, Any] = {
    **QUANTITY_FUNCTIONS, **celauthz.functions(),
    "_==_": _eq, "_!=_": _ne,
    "charAt": lambda s, i: celtypes.StringType(_s(s)[int(i)] if int(i) < len(s) else ""),
    "indexOf": _index_of, "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: celtypes.StringType(_s(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(_s(s).upper()),
    "replace": _replace, "split": _split, "substring": _substring,
    "trim": lambda s: celtypes.StringType(_s(s).strip()), "join": _join,
    "isSorted": _is_sorted, "sum": _sum, "max": _max, "find": _find, "findAll": _find_all,
}
KNOWN_FUNCTIONS = frozenset(base_functions) | frozenset(FUNCTIONS) | {"has", "dyn", "min"}


# ---- the interpreter with a cost budget ----------------------------------------------------

class _CountingEvaluator(Evaluator):
    """celpy's tree-walking evaluator, charging 1 per operation node against a shared budget."""

    def __init__(self, ast: lark.Tree, activation: Activation, budget: list[int]) -> None:
        super().__init__(ast, activation)
        self.budget = budget

    def sub_evaluator(self, ast: lark.Tree) -> "Evaluator":
        return _CountingEvaluator(ast, self.activation, self.budget)

    def _visit_tree(self, tree: lark.Tree) -> Any:
        operation = tree.data not in _PASS_THROUGH or len(tree.children) != 1
        if operation:
            self._charge(1)
        result = super()._visit_tree(tree)
        if operation and tree.data in _SIZED and isinstance(result, (str, bytes, list)):
            # cel-go charges a concatenation by its size (AddString: ceil((m+n) * 0.1)); without
            # it, `s + s` chained 30 times built a gigabyte string for 30 units
            self._charge(math.ceil(len(result) * STRING_TRAVERSAL_COST_FACTOR))
        return result

    def _charge(self, cost: int) -> None:
        self.budget[0] -= cost
        if self.budget[0] < 0:
            raise _Budget()


def to_cel(value: Any) -> Any:
    """JSON (dicts, lists, str, int, float, bool, None) to CEL values; convert once, evaluate many.
    (celpy's json_to_cel does the same through typing-generic isinstance checks, 3x slower.)"""
    t = type(value)
    if t is dict:
        return celtypes.MapType({celtypes.StringType(k): to_cel(v) for k, v in value.items()})
    if t is list:
        return celtypes.ListType([to_cel(v) for v in value])
    if t is str:
        return celtypes.StringType(value)
    if t is bool:
        return celtypes.BoolType(value)
    if t is int:
        return celtypes.IntType(value)
    if t is float:
        return celtypes.DoubleType(value)
    return json_to_cel(value)


def from_cel(value: Any) -> Any:
    """CEL values back to plain Python (bool before int: BoolType is an int)."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {from_cel(k): from_cel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_cel(v) for v in value]
    return value


def _error_text(err: CELEvalError) -> str:
    """cel-go's wording for the errors users meet most."""
    args = err.args
    text = str(args[0]) if args else "evaluation error"
    if len(args) > 1 and args[1] is KeyError:
        m = re.search(r"'(.*)'", text)
        return f"no such key: {m.group(1) if m else text}"
    if text.startswith("found no matching overload"):
        return "no such overload"
    if len(args) > 1 and args[1] is ZeroDivisionError:
        return "division by zero" if "divide" in text else "modulus by zero"
    return text


@dataclass(frozen=True)
class Program:
    expression: str
    ast: lark.Tree

    def evaluate(self, activation: dict[str, Any], budget: list[int] | None = None) -> Any:
        """Run over `activation` (values already `to_cel`'d); `budget` is a one-item list of what
        is left of the request's REQUEST_LIMIT, shared by its expressions (default: a fresh one)."""
        budget = budget if budget is not None else [REQUEST_LIMIT]
        start = min(PER_CALL_LIMIT, budget[0])
        call = [start]
        act = Activation(annotations={}, package=None, functions=FUNCTIONS)
        try:
            ev = _CountingEvaluator(self.ast, act, call)
            result = ev.evaluate(dict(activation))
        except _Budget:
            raise EvalError("operation cancelled: actual cost limit exceeded") from None
        except CELEvalError as e:
            raise EvalError(_error_text(e)) from None
        except RecursionError:
            raise EvalError("max recursion depth exceeded") from None
        except Exception as e:  # the interpreter's own failures are still evaluation errors
            raise EvalError(f"{type(e).__name__}: {e}") from None
        finally:
            budget[0] -= start - max(call[0], 0)
        if isinstance(result, CELEvalError):
            raise EvalError(_error_text(result))
        return from_cel(result)


_ENV = celpy.Environment()


def _caret(expression: str, line: int, column: int) -> str:
    """cel-go's issue location: `<input>:L:C: ...` then ` | source` and ` | ...^`."""
    source = expression.splitlines()[line - 1] if expression else ""
    return f"\n | {source}\n | {'.' * (column - 1)}^"


def _bound_names(tree: lark.Tree) -> set[str]:
    """Variables macros introduce (`x` of `list.all(x, ...)`)."""
    out = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and len(node.children) == 3 and str(node.children[1]) in MACROS:
            args = node.children[2]
            if isinstance(args, lark.Tree) and args.children:
                out |= {str(i.children[0]) for i in args.children[0].find_data("ident")}
    return out


def _undeclared(tree: lark.Tree, variables: Iterable[str]) -> list[lark.Token]:
    allowed = set(variables) | _bound_names(tree)
    bad = []
    for node in tree.iter_subtrees_topdown():
        if node.data == "ident" and node.children and str(node.children[0]) not in allowed:
            bad.append(node.children[0])
        elif node.data == "ident_arg" and node.children and str(node.children[0]) not in KNOWN_FUNCTIONS:
            bad.append(node.children[0])
    return bad


def _nesting(tree: lark.Tree) -> int:
    """The most `expr` nodes on one path (iteratively: the interpreter recurses ~25 Python frames
    per level, so deeper expressions would fail at evaluation with a RecursionError)."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        depth += node.data == "expr"
        deepest = max(deepest, depth)
        stack.extend((c, depth) for c in node.children if isinstance(c, lark.Tree))
    return deepest


@functools.lru_cache(maxsize=2048)
def _compile(expression: str, variables: frozenset[str]) -> Program:
    try:
        ast = _ENV.compile(expression)
    except celpy.CELParseError as e:
        line, col = e.line or 1, e.column or 1
        first = str(e.args[0]).strip().splitlines()[-1] if e.args else "syntax error"
        raise CompileError(f"ERROR: <input>:{line}:{col}: Syntax error: {first}"
                           + _caret(expression, line, col)) from None
    except RecursionError:
        raise CompileError("ERROR: <input>:1:1: expression too deeply nested") from None
    except Exception as e:  # the parser's own failures are still compile errors, never a 500
        raise CompileError(f"ERROR: <input>:1:1: Syntax error: {type(e).__name__}: {e}") from None
    if _nesting(ast) > MAX_NESTING:
        raise CompileError(f"ERROR: <input>:1:1: expression nested more than {MAX_NESTING} levels deep")
    issues = []
    for tok in _undeclared(ast, variables):
        kind = "undeclared reference to"
        issues.append(f"ERROR: <input>:{tok.line}:{tok.column}: {kind} '{tok}' (in container '')"
                      + _caret(expression, tok.line or 1, tok.column or 1))
    if issues:
        raise CompileError("\n".join(issues))
    return Program(expression, ast)


def compile(expression: str, variables: Iterable[str]) -> Program:  # noqa: A001 - the CEL verb
    """The program of `expression` with `variables` declared (cached; raises CompileError)."""
    return _compile(expression, frozenset(variables))
