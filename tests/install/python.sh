#!/usr/bin/env bash
# The Python wheel on a machine without Rust: a new venv, made with a PATH that holds no cargo,
# rustc, rustup or maturin, installs the wheel file from dist/python (pip may build nothing),
# then the seed scenario runs from a copy outside the tree against the installed package alone.
# The installed version must be Cargo's and the extension module must carry no debuginfo.
#
# Usage: tests/install/python.sh WHEEL_DIR VENV   (PYTHON, default python3, makes the venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
wheel_dir=$1 venv=$(realpath -m "$2")
fail() { echo "test-install-python: $*" >&2; exit 1; }

want_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$want_version" ] || fail "no version in Cargo.toml's [workspace.package]"

shopt -s nullglob
wheels=("$wheel_dir"/rewrap-*-manylinux*_"$(uname -m)".whl)
[ ${#wheels[@]} -eq 1 ] || fail "want one manylinux $(uname -m) wheel in $wheel_dir, found ${#wheels[@]} (make dist-python)"
wheel=$(realpath "${wheels[0]}")

# The interpreter is looked up on the caller's PATH (pyenv shims and all); from here on PATH is
# the venv and the system directories only, as on a machine where Rust was never installed.
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
rm -rf "$venv"
export PATH="$venv/bin:/usr/bin:/bin"
unset CARGO_HOME RUSTUP_HOME CARGO_TARGET_DIR PYTHONPATH VIRTUAL_ENV
for tool in cargo rustc rustup maturin; do
  if found=$(command -v "$tool"); then fail "$tool is on PATH ($found): not a machine without Rust"; fi
done

"$python" -m venv "$venv"
"$venv/bin/pip" install -q --only-binary :all: "$wheel"
"$venv/bin/pip" install -q --only-binary :all: pytest

tests=$(mktemp -d)
trap 'rm -rf "$tests"' EXIT
cp python/tests/conftest.py python/tests/test_scenario.py "$tests"/
cd "$tests"

"$venv/bin/python" - "$venv" "$want_version" <<'PY'
"""The installed package: from the venv, Cargo's version, GPL metadata, a stripped extension."""
import importlib.metadata
import pathlib
import struct
import sys

import rewrap
import rewrap._rewrap

venv, want_version = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
errors = []
for module in (rewrap, rewrap._rewrap):
    if venv not in pathlib.Path(module.__file__).resolve().parents:
        errors.append(f"{module.__name__} imported from {module.__file__}, not from {venv}")
if rewrap.__version__ != want_version:
    errors.append(f"rewrap.__version__ is {rewrap.__version__}, Cargo.toml says {want_version}")
if importlib.metadata.version("rewrap") != want_version:
    errors.append(f"the wheel's metadata says {importlib.metadata.version('rewrap')}, Cargo.toml {want_version}")
if importlib.metadata.metadata("rewrap")["License"] != "GPL-3.0-only":
    errors.append(f"licence metadata {importlib.metadata.metadata('rewrap')['License']!r}")


def section_names(path):
    """Section names of a little-endian ELF64 file (the header and section table layout)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"test-install-python: {path} is not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    # Each header: sh_name, sh_type (u32), sh_flags, sh_addr, sh_offset, sh_size (u64).
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    start, size = headers[shstrndx][4:6]
    strtab = data[start:start + size]
    return [strtab[h[0]:strtab.index(b"\0", h[0])].decode() for h in headers]


extension = pathlib.Path(rewrap._rewrap.__file__)
if not extension.name.endswith(".abi3.so"):
    errors.append(f"{extension.name} is not an abi3 extension")
names = section_names(extension)
unstripped = [n for n in names if n.startswith(".debug") or n == ".symtab"]
if unstripped:
    errors.append(f"{extension.name} is not stripped: {', '.join(unstripped)}")
if errors:
    raise SystemExit("test-install-python:\n  " + "\n  ".join(errors))
print(f"installed rewrap {rewrap.__version__} from {extension} "
      f"({extension.stat().st_size} bytes, {len(names)} sections, no debuginfo or symbol table)")
PY

"$venv/bin/python" -m pytest -q -p no:cacheprovider test_scenario.py
