"""Which names a cell's Python binds and reads: the static analysis behind the exercise spec.

Cells may hold IPython syntax (`python_source` turns it into Python). A name a
cell reads before binding it is *free* (`free_names`), in evaluation order,
with nested scopes resolved by `symtable`; `imported_modules` lists what an
exercise's imports load, to preload them in warm kernels.
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Iterable
from functools import lru_cache
from typing import Any


def python_source(source: str) -> str:
    """Source with IPython syntax (magics, ``!cmd``) turned into plain Python."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        return _transformer().transform_cell(source)


@lru_cache(maxsize=1)
def _transformer() -> Any:
    # Imported lazily: IPython is heavy and only needed for cells with magics.
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def assigned_names(tree: ast.Module) -> list[str]:
    """Names the top-level assignments bind, in order (a parameters cell's names)."""
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return names


def bound_by(node: ast.AST) -> set[str]:
    """Names a single top-level statement binds in the module namespace."""
    out: set[str] = set()
    if isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            out.add((alias.asname or alias.name).split(".")[0])
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        out.add(node.name)
    for sub in _walk_same_scope(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            out.add(sub.id)
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            out.add(sub.name)
        elif isinstance(sub, ast.alias) and sub is not node:
            out.add((sub.asname or sub.name).split(".")[0])
    return out


def top_level_bound(tree: ast.Module) -> set[str]:
    """Every name the cell's top-level statements bind in the module namespace."""
    out: set[str] = set()
    for node in tree.body:
        out |= bound_by(node)
    return out


def _walk_same_scope(node: ast.AST) -> Iterable[ast.AST]:
    """Walk a statement without entering nested scopes (functions, lambdas, comprehensions)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(
                child,
                ast.FunctionDef
                | ast.AsyncFunctionDef
                | ast.ClassDef
                | ast.Lambda
                | ast.ListComp
                | ast.SetComp
                | ast.DictComp
                | ast.GeneratorExp,
            ):
                # Defaults and decorators are evaluated in this scope, the body is not.
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    stack.extend(child.args.defaults)
                    stack.extend(d for d in child.args.kw_defaults if d is not None)
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    stack.extend(child.decorator_list)
                if isinstance(child, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
                    stack.append(child.generators[0].iter)
                continue
            stack.append(child)


class _ReadsInOrder(ast.NodeVisitor):
    """Walks one scope in evaluation order: a name read before the cell binds it is free.

    Order matters within a statement too: a `for` target or a `with ... as`
    name is bound before the body reads it, while `x = x + 1` reads `x` first.
    Nested scopes (functions, lambdas, comprehension bodies) are left to
    `symtable`; only what this scope evaluates of them is visited here.
    """

    def __init__(self) -> None:
        self.free: set[str] = set()
        self.bound: set[str] = set()

    def _read(self, name: str) -> None:
        if name not in self.bound:
            self.free.add(name)

    def _visit_all(self, nodes: Iterable[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        else:
            self.bound.add(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        self._visit_all(node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._visit_all([node.value, node.annotation, node.target])

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._visit_all([node.value, node.target])

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._visit_all([node.iter, node.target, *node.body, *node.orelse])

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self._visit_all([item.context_expr, item.optional_vars])
        self._visit_all(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._visit_all([node.type])
        if node.name:
            self.bound.add(node.name)
        self._visit_all(node.body)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.bound.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all([*node.decorator_list, *node.args.defaults, *node.args.kw_defaults])
        self.bound.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)])
        self.bound.add(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_all([*node.args.defaults, *node.args.kw_defaults])

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp
                             | ast.GeneratorExp) -> None:
        # Only the first iterable is evaluated in this scope.
        self.visit(node.generators[0].iter)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension


def free_names(code: str, tree: ast.Module) -> set[str]:
    """Names a cell reads before (or without) binding them itself.

    Top-level statements are scanned in order (a name read before it is
    assigned is free: ``x = x + 1``); nested scopes are resolved with
    `symtable`, whose implicit globals are free unless the cell binds them.
    """
    reads = _ReadsInOrder()
    for node in tree.body:
        reads.visit(node)
    free, bound = reads.free, top_level_bound(tree) | reads.bound
    nested: set[str] = set()

    def visit(table: symtable.SymbolTable) -> None:
        for child in table.get_children():
            for sym in child.get_symbols():
                if sym.is_referenced() and sym.is_global():
                    nested.add(sym.get_name())
            visit(child)

    visit(symtable.symtable(code, "<check>", "exec"))
    return free | (nested - bound)


@lru_cache(maxsize=256)
def imported_modules(import_code: str) -> tuple[str, ...]:
    """Modules an exercise's import statements load (``from a.b import c``: ``a.b``, ``a.b.c``).

    Used to preload them in the pool's next kernels; ``a.b.c`` may name a
    function rather than a module, in which case preloading it just fails
    quietly. Relative imports are skipped.
    """
    found: list[str] = []
    for line in import_code.splitlines():
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
                found += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return tuple(dict.fromkeys(found))
