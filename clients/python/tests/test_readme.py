"""The Python examples of the READMEs run as printed.

Every ```python block of clients/python/README.md, and of the "Python"
part of README.md's "Client libraries", runs against the errmap of these
tests (its address in place of localhost:50051). Each print(...) line ends
with a comment holding what it prints; the output must be those lines.
"""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]

README_ADDR = "localhost:50051"
RUN_TIMEOUT = 60
#: (file, the "## " section and "### " subsection that hold the examples;
#: None: the whole file).
SOURCES = [
    (ROOT / "README.md", "Client libraries", "Python"),
    (ROOT / "clients" / "python" / "README.md", None, None),
]
PRINT_LINE = re.compile(r"^\s*print\(.*\)\s+# (.*)$")


def python_blocks(path, section, subsection):
    """(line number, code) of each ```python block in the given part of a file."""
    blocks, current, code, h2, h3 = [], None, [], None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is not None:
            if line.strip() == "```":
                blocks.append((current, "\n".join(code) + "\n"))
                current, code = None, []
            else:
                code.append(line)
        elif line.startswith("## "):
            h2, h3 = line[3:].strip(), None
        elif line.startswith("### "):
            h3 = line[4:].strip()
        elif line.strip() == "```python" and (section is None or (h2, h3) == (section, subsection)):
            current = number
    return blocks


EXAMPLES = [(path, line, code) for path, section, subsection in SOURCES for line, code in python_blocks(path, section, subsection)]


@pytest.mark.parametrize(("path", "section", "subsection"), SOURCES)
def test_readme_has_examples(path, section, subsection):
    assert python_blocks(path, section, subsection), f"no python example in {path.name} {section or ''} {subsection or ''}"


@pytest.mark.parametrize(("path", "line", "code"), EXAMPLES, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in EXAMPLES])
def test_readme_example_runs_as_printed(path, line, code, addr, tmp_path):
    expected = [m.group(1) for m in map(PRINT_LINE.match, code.splitlines()) if m]
    assert expected, f"{path.name}:{line}: no print(...)  # output line to check"
    assert README_ADDR in code, f"{path.name}:{line}: the example does not use {README_ADDR}"
    script = tmp_path / "example.py"
    script.write_text(code.replace(README_ADDR, addr), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, f"{path.name}:{line}: exit {done.returncode}\n{done.stderr}"
    assert done.stdout.splitlines() == expected, f"{path.name}:{line}\n{done.stderr}"
