"""Load spec files and directories, follow `import`s, check everything.

`import name` in `dir/a.lion` loads `dir/name.lion` first; cycles are an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lion.errors import SourceLocation, SpecError
from lion.spec import ast
from lion.spec.check import check_module
from lion.spec.parse import parse_file, parse_text

__all__ = ["load_paths", "load_text"]


def _spec_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.glob("*.lion"))
            if not found:
                raise SpecError(
                    f"no `.lion` files in directory `{p}`", SourceLocation(str(p), 1, 1)
                )
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise SpecError(f"no such file or directory `{p}`", SourceLocation(str(p), 1, 1))
    unique: list[Path] = []
    for f in files:
        if f.resolve() not in {u.resolve() for u in unique}:
            unique.append(f)
    return unique


class _Loader:
    def __init__(self) -> None:
        self.done: dict[Path, ast.Module] = {}
        self.active: list[Path] = []

    def load(self, path: Path, parsed: ast.Module | None = None) -> ast.Module:
        key = path.resolve()
        if key in self.done:
            return self.done[key]
        if key in self.active:
            cycle = " -> ".join(p.stem for p in [*self.active, key])
            raise SpecError(f"import cycle: {cycle}", SourceLocation(str(path), 1, 1))
        self.active.append(key)
        module = parsed if parsed is not None else parse_file(path)
        deps = []
        for name in module.imports:
            dep_path = path.parent / f"{name}.lion"
            if not dep_path.exists():
                raise SpecError(
                    f"cannot import `{name}`: no file `{dep_path}`", _import_location(module, name)
                )
            deps.append(self.load(dep_path))
        checked = check_module(module, deps)
        self.active.pop()
        self.done[key] = checked
        return checked


def _import_location(module: ast.Module, name: str) -> SourceLocation:
    for i, line in enumerate(module.source.splitlines(), start=1):
        if line.strip().startswith("import") and name in line.split():
            return SourceLocation(module.path, i, line.index(name) + 1, line)
    return SourceLocation(module.path, 1, 1)


def load_paths(paths: Iterable[str | Path]) -> list[ast.Module]:
    """Parse and check every spec named by `paths` (files or directories), in order."""
    loader = _Loader()
    return [loader.load(f) for f in _spec_files(paths)]


def load_text(source: str, path: str = "<string>") -> ast.Module:
    """Parse and check one spec given as text; imports resolve relative to `path`."""
    return _Loader().load(Path(path), parse_text(source, path))
