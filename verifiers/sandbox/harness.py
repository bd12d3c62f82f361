"""The in-child test harness (stdlib only). Imported by the fork server before any candidate
runs, so it holds its own references to everything it uses.

Order inside the child: read the nonce and the tests from their pipe and close it (so the
candidate cannot read them), run the candidate, restore builtins/trace hooks it may have
patched, run the tests with every `assert` rewritten into a harness check, and report each
check on the harness pipe as it happens. Exit is `os._exit`, so `atexit` hooks never run.

A check compares only plain data: a value of a candidate-defined type (an object whose
`__eq__` is always true, an int subclass...) compared with plain data fails.
"""

import ast
import builtins
import json
import operator
import os
import sys

_write = os.write
_exit = os._exit
_read = os.read
_close = os.close
_settrace = sys.settrace
_setprofile = sys.setprofile
_type = type
_isinstance = isinstance
_repr = repr
_BaseException = BaseException
_BUILTINS = dict(builtins.__dict__)

PLAIN = (int, float, complex, str, bytes, bool, type(None))
CONTAINERS = (list, tuple, set, frozenset)
OPS = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
    "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
    "In": lambda a, b: operator.contains(b, a), "NotIn": lambda a, b: not operator.contains(b, a),
}


def is_plain(value, budget=None):
    """True for builtin data (recursively for containers), never for candidate-defined types."""
    budget = budget if budget is not None else [100_000]
    budget[0] -= 1
    if budget[0] < 0:
        return False
    t = _type(value)
    if t in PLAIN:
        return True
    if t in CONTAINERS:
        return all(is_plain(v, budget) for v in value)
    if t is dict:
        return all(is_plain(k, budget) and is_plain(v, budget) for k, v in value.items())
    return False


class _Reporter:
    def __init__(self, fd, nonce):
        self.fd, self.nonce = fd, nonce

    def send(self, kind, text=""):
        line = ("%s %s %s\n" % (self.nonce, kind, text.replace("\n", "\\n")[:2000])).encode("utf-8", "replace")
        _write(self.fd, line)


def _short(value):
    try:
        text = _repr(value)
    except _BaseException:
        text = "<unrepresentable>"
    return text[:200]


def make_checks(report):
    def check_compare(idx, ops, thunk):
        operands = thunk()
        for i, op in enumerate(ops):
            left, right = operands[i], operands[i + 1]
            if is_plain(left) != is_plain(right):
                report.send("FAIL", "%d non-data value compared with data: %s %s %s" % (idx, _short(left), op, _short(right)))
                return
            result = OPS[op](left, right)
            if _type(result) is not bool and not (is_plain(left) and is_plain(right)):
                report.send("FAIL", "%d comparison returned %s" % (idx, _type(result).__name__))
                return
            if not result:
                report.send("FAIL", "%d %s %s %s" % (idx, _short(left), op, _short(right)))
                return
        report.send("OK", str(idx))

    def check_truth(idx, thunk):
        value = thunk()
        if not is_plain(value):
            report.send("FAIL", "%d assertion on a non-data value %s" % (idx, _short(value)))
        elif not value:
            report.send("FAIL", "%d assertion is false" % idx)
        else:
            report.send("OK", str(idx))

    return check_compare, check_truth


class _AssertRewriter(ast.NodeTransformer):
    def __init__(self, compare_name, truth_name):
        self.compare_name, self.truth_name, self.count = compare_name, truth_name, 0

    def visit_Assert(self, node):
        idx = self.count
        self.count += 1
        test = node.test
        if _isinstance(test, ast.Compare):
            operands = ast.Tuple(elts=[test.left] + list(test.comparators), ctx=ast.Load())
            ops = ast.List(elts=[ast.Constant(_type(op).__name__) for op in test.ops], ctx=ast.Load())
            call = ast.Call(ast.Name(self.compare_name, ast.Load()),
                            [ast.Constant(idx), ops, ast.Lambda(_no_args(), operands)], [])
        else:
            call = ast.Call(ast.Name(self.truth_name, ast.Load()),
                            [ast.Constant(idx), ast.Lambda(_no_args(), test)], [])
        return ast.copy_location(ast.Expr(call), node)


def _no_args():
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _read_payload(fd):
    chunks = []
    while True:
        chunk = _read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    _close(fd)
    return json.loads(b"".join(chunks).decode())


def _restore_world():
    """Undo what the candidate may have patched before the tests run."""
    _settrace(None)
    _setprofile(None)
    builtins.__dict__.clear()
    builtins.__dict__.update(_BUILTINS)
    sys.excepthook = sys.__excepthook__


def _run_candidate(code, namespace, report):
    """Returns True if the candidate ran to completion (SystemExit(0)/None counts for io)."""
    try:
        compiled = compile(code, "<candidate>", "exec")
    except (SyntaxError, ValueError) as exc:
        report.send("SYNTAX", "%s" % exc)
        return False
    try:
        exec(compiled, namespace)
    except SystemExit as exc:
        code_ = exc.code
        if code_ in (None, 0):
            report.send("EXIT", "0")
        else:
            report.send("EXIT", _short(code_))
        return "exit"
    except MemoryError:
        report.send("MEMORY", "MemoryError")
        return False
    except RecursionError as exc:
        report.send("ERROR", "RecursionError: %s" % exc)
        return False
    except _BaseException as exc:
        report.send("ERROR", "%s: %s" % (_type(exc).__name__, _short(exc)))
        return False
    return True


def run(job, harness_fd, nonce_fd):
    payload = _read_payload(nonce_fd)  # before the candidate: it never sees tests or nonce
    report = _Reporter(harness_fd, payload["nonce"])
    # io programs run as scripts; for assert tests the candidate is a module, so a demo under
    # `if __name__ == "__main__":` (often reading input()) does not run before the tests.
    namespace = {"__name__": "__main__" if job["mode"] == "io" else "solution", "__builtins__": builtins}
    ran = _run_candidate(job["code"], namespace, report)
    try:
        sys.stdout.flush()
    except _BaseException:
        pass
    if job["mode"] == "io":
        if ran is True or ran == "exit":
            report.send("END", "io")
        _exit(0)
    if ran is not True:  # an exit before the tests is a failure, whatever its status
        report.send("NOTESTS", "candidate did not complete")
        _exit(0)
    _restore_world()
    tag = payload["nonce"][:12]
    compare_name, truth_name = "_factory_compare_" + tag, "_factory_truth_" + tag
    try:
        tree = ast.parse(payload["tests"], "<tests>")
        rewriter = _AssertRewriter(compare_name, truth_name)
        tree = ast.fix_missing_locations(rewriter.visit(tree))
        compiled = compile(tree, "<tests>", "exec")
    except SyntaxError as exc:
        report.send("BADTESTS", str(exc))
        _exit(0)
    check_compare, check_truth = make_checks(report)
    namespace[compare_name], namespace[truth_name] = check_compare, check_truth
    report.send("TESTS", str(rewriter.count))
    try:
        exec(compiled, namespace)
    except MemoryError:
        report.send("MEMORY", "MemoryError")
        _exit(0)
    except _BaseException as exc:
        report.send("ERROR", "%s: %s" % (_type(exc).__name__, _short(exc)))
        _exit(0)
    report.send("END", "asserts")
    _exit(0)
