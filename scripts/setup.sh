#!/usr/bin/env bash
# Set up a fresh machine for opto: Graphviz's `dot` and a virtual environment with opto
# and its development dependencies. Sourced by the demo and test commands.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if ! command -v dot >/dev/null 2>&1; then
    echo "[setup] installing Graphviz (dot) with apt-get"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq graphviz >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo apt-get install -y -qq graphviz >/dev/null
    else
        echo "[setup] cannot install Graphviz without root; drawings will not render" >&2
    fi
fi

python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $("$python_bin" --version)"
    "$python_bin" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=".venv/.opto-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "[setup] installing opto with its dev extras"
    python -m pip install -q --upgrade pip
    python -m pip install -q -e ".[dev]"
    touch "$stamp"
fi
