#!/usr/bin/env bash
# Run gander's whole test suite on a fresh machine: install what the tests need and the
# machine lacks (Debian packages, when run as root or with sudo), then run everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. Add to this list when a test starts needing a tool.
NEEDED_PACKAGES=(prometheus prometheus-node-exporter openssl curl jq openssh-client openssh-server procps util-linux passwd postgresql postgresql-client prometheus-alertmanager man-db zsh)

missing=()
for pkg in "${NEEDED_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo not found; install Rust with https://rustup.rs and run again" >&2
  exit 2
fi

# What the tests' gander processes remember (heads, verified prefixes, folds) goes to a
# directory of this run, not to the user's own data directory.
GANDER_HEADS_DIR="$(mktemp -d)"
export GANDER_HEADS_DIR
trap 'rm -rf "$GANDER_HEADS_DIR"' EXIT

# Unit, integration and property tests, and the benches built and run once each.
cargo test --all-targets --locked
cargo test --doc --locked
