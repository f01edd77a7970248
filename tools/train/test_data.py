"""Tests of the training data beyond the stdlib: synth.py's functions and prepare_packages.py's filters.

  /work/venv/bin/python -m pytest tools/train/test_data.py
"""
import ast
import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_packages  # noqa: E402
import synth  # noqa: E402


def definitions(files):
    for text in files:
        for node in ast.parse(text).body:
            yield node


def test_synth_is_deterministic_and_valid_python():
    a, skipped_a = synth.generate(2000, seed=3)
    b, skipped_b = synth.generate(2000, seed=3)
    assert a == b and skipped_a == skipped_b
    assert a != synth.generate(2000, seed=4)[0]
    nodes = list(definitions(a))
    assert len(nodes) == 2000


def test_synth_functions_use_their_arguments_and_name_what_they_return():
    files, _ = synth.generate(3000, seed=5)
    for node in definitions(files):
        if isinstance(node, ast.ClassDef):
            init = node.body[0]
            fields = [a.arg for a in init.args.args[1:]]
            assigned = [t.attr for st in init.body for t in st.targets]
            assert fields == assigned, ast.unparse(node)
            continue
        params = {a.arg for a in node.args.args}
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert params <= used, ast.unparse(node)
        assigned = {t.id for n in ast.walk(node) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assigned |= {n.optional_vars.id for n in ast.walk(node) if isinstance(n, ast.withitem) and n.optional_vars is not None}
        assigned |= {n.target.id for n in ast.walk(node) if isinstance(n, (ast.For, ast.AugAssign))}
        for n in ast.walk(node):
            if isinstance(n, ast.Return) and isinstance(n.value, ast.Name):
                assert n.value.id in assigned | params, ast.unparse(node)


def test_synth_never_writes_the_probes_as_written():
    files, skipped = synth.generate(20000, seed=0)
    assert skipped > 0  # the exclusion was exercised
    for node in definitions(files):
        if isinstance(node, ast.ClassDef):
            init = node.body[0]
            key = (node.name, tuple(a.arg for a in init.args.args[1:]), None)
        else:
            names = [t.id for n in ast.walk(node) if isinstance(n, ast.Assign) for t in n.targets]
            key = (node.name, tuple(a.arg for a in node.args.args), names[0] if names else None)
        assert key not in synth.EXCLUDED, ast.unparse(node)


def wheel(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return zipfile.ZipFile(buf)


def test_package_filters():
    ok = "def f(x):\n    return x + 1\n"
    zf = wheel({
        "pkg/__init__.py": ok,
        "pkg/tests/test_a.py": ok,                              # a test directory: skipped
        "pkg/table.py": "X = '" + "a" * 1200 + "'\n",           # a line over 1,000 characters
        "pkg/wide.py": ("y = '" + "b" * 90 + "'\n") * 20,       # mean line length over 80
        "pkg/latin.py": b"s = '\xe9'\n",                        # not UTF-8
        "pkg/empty.py": "\n",                                   # nothing in it
        "pkg/data.txt": ok,                                     # not .py
        "pkg-1.0.data/scripts/tool.py": ok,                     # wheel data, not the package
        "pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pkg\nLicense-Expression: MIT\n",
    })
    assert [p for p, _ in prepare_packages.py_members(zf)] == ["pkg/__init__.py"]
    assert prepare_packages.wheel_licence(zf) == "MIT"


def test_package_list_parses_name_version_licence(tmp_path):
    path = tmp_path / "packages.txt"
    path.write_text("# comment\nfoo==1.2  MIT\n\nbar-baz==0.1  Apache-2.0 OR BSD-2-Clause  # trailing\n")
    assert prepare_packages.read_list(str(path)) == [("foo", "1.2", "MIT"), ("bar-baz", "0.1", "Apache-2.0 OR BSD-2-Clause")]
