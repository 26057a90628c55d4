#!/usr/bin/env bash
# Installs what berth's build and tests need on a fresh Debian 12 machine (run as root):
# C libraries for -sys crates, busybox-static for the base image fixture, and the tools the
# end-to-end tests drive (the official docker CLI must already be on PATH; docker-py goes into
# a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pkgs < scripts/apt-packages.txt
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

# docker-py for the API compatibility tests, in a venv the tests find at target/pyenv.
if [ ! -x target/pyenv/bin/python ] || ! target/pyenv/bin/python -c 'import docker' 2>/dev/null; then
    mkdir -p target
    python3 -m venv target/pyenv
    target/pyenv/bin/pip install -q 'docker==7.1.0' pytest
fi
command -v docker >/dev/null || echo "setup: warning: no docker CLI on PATH; the docker-CLI tests will fail" >&2
echo "setup: done"
