#!/usr/bin/env bash
# Write the evidence fixtures with the real tools (run once; outputs are committed under
# tests/fixtures/evidence/). Needs: cargo-nextest, and from PyPI: pytest, coverage,
# bandit[sarif], cyclonedx-bom. k6 and an SPDX generator are not installable here: those
# fixtures follow the tools' documented schemas and say so in their names (*.from-schema.json).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/tests/fixtures/evidence
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- Python: pytest JUnit (pass and fail), coverage.py Cobertura and LCOV, bandit SARIF.
mkdir -p "$work/py/app" "$work/py/tests"
cat >"$work/py/app/__init__.py" <<'PY'
import subprocess

def add(a, b):
    return a + b

def ratio(a, b):
    if b == 0:
        return None
    return a / b

def unused_branch(x):
    if x > 100:
        return "big"
    return "small"

def run(cmd):
    return subprocess.call(cmd, shell=True)
PY
cat >"$work/py/tests/test_app.py" <<'PY'
from app import add, ratio

def test_add():
    assert add(2, 3) == 5

def test_ratio():
    assert ratio(1, 2) == 0.5

def test_ratio_zero():
    assert ratio(1, 0) is None
PY
(cd "$work/py" && python3 -m pytest -q --junitxml="$out/pytest-pass.junit.xml" tests >/dev/null)
(cd "$work/py" && python3 -m coverage run -m pytest -q tests >/dev/null && python3 -m coverage xml -o "$out/coveragepy.cobertura.xml" >/dev/null && python3 -m coverage lcov -o "$out/coveragepy.lcov" >/dev/null)
cat >>"$work/py/tests/test_app.py" <<'PY'

def test_add_negative():
    assert add(-2, -3) == -6

class TestRatio:
    def test_ratio_of_three(self):
        assert ratio(3, 4) == 0.7
PY
(cd "$work/py" && python3 -m pytest -q --junitxml="$out/pytest-fail.junit.xml" tests >/dev/null) || true
(cd "$work/py" && bandit -q -r app -f sarif -o "$out/bandit-findings.sarif") || true
mkdir -p "$work/clean"
printf 'def add(a, b):\n    return a + b\n' >"$work/clean/ok.py"
(cd "$work/clean" && bandit -q -r . -f sarif -o "$out/bandit-clean.sarif") || true

# --- CycloneDX from cyclonedx-py: a complete SBOM for service-b 1.3.2, and one with an
# unpinned requirement (a component without a version).
cat >"$work/py/pyproject.toml" <<'TOML'
[project]
name = "service-b"
version = "1.3.2"
TOML
printf 'requests==2.32.3\nurllib3==2.2.3\n' >"$work/py/requirements.txt"
(cd "$work/py" && cyclonedx-py requirements requirements.txt --pyproject pyproject.toml --of JSON -o "$out/cyclonedx-py-service-b.cdx.json")
printf 'requests==2.32.3\nurllib3\n' >"$work/py/requirements-loose.txt"
(cd "$work/py" && cyclonedx-py requirements requirements-loose.txt --pyproject pyproject.toml --of JSON -o "$out/cyclonedx-py-unpinned.cdx.json")

# --- Rust: cargo-nextest JUnit (pass and fail).
mkdir -p "$work/rs/src" "$work/rs/.config"
cat >"$work/rs/Cargo.toml" <<'TOML'
[package]
name = "svc"
version = "0.1.0"
edition = "2021"
TOML
cat >"$work/rs/.config/nextest.toml" <<'TOML'
[profile.ci.junit]
path = "junit.xml"
TOML
cat >"$work/rs/src/lib.rs" <<'RS'
pub fn double(x: i32) -> i32 { x * 2 }
#[cfg(test)]
mod tests {
    #[test] fn doubles() { assert_eq!(super::double(2), 4); }
    #[test] fn doubles_negative() { assert_eq!(super::double(-3), -6); }
    #[test] #[ignore] fn slow() {}
}
RS
(cd "$work/rs" && cargo nextest run --profile ci >/dev/null 2>&1 && cp target/nextest/ci/junit.xml "$out/nextest-pass.junit.xml")
sed -i 's/assert_eq!(super::double(-3), -6)/assert_eq!(super::double(-3), 6)/' "$work/rs/src/lib.rs"
(cd "$work/rs" && cargo nextest run --profile ci --no-fail-fast >/dev/null 2>&1) || true
cp "$work/rs/target/nextest/ci/junit.xml" "$out/nextest-fail.junit.xml"
ls -la "$out"
