#!/usr/bin/env bash
# Set up a fresh machine for opto, from the lock file: Graphviz's `dot` (and, for the tests,
# Chromium) and a virtual environment `.venv` holding exactly the versions in uv.lock. Sourced by the demo and test
# commands, which say what they need:
#
#   OPTO_SETUP_EXTRAS="dev"   the test command: every development and test dependency
#   OPTO_SETUP_EXTRAS=""      the demo: the core only (plus "llm" when a model is configured)
#
# uv itself is installed, pinned, into `.tools/` (git-ignored). Refresh the lock with
# `.tools/bin/uv lock --upgrade` (see README).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

UV_VERSION="0.13.9"
extras="${OPTO_SETUP_EXTRAS-dev}"

apt_install() {  # apt_install PACKAGE DESCRIPTION: install a Debian package when we can
    echo "[setup] installing $2 with apt-get"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo apt-get install -y -qq "$1" >/dev/null
    else
        echo "[setup] cannot install $1 without root" >&2
    fi
}

if ! command -v dot >/dev/null 2>&1; then
    apt_install graphviz "Graphviz (dot), which draws graphs"
fi
case " $extras " in
    *" dev "*)  # the tests open run reports in headless Chromium
        if ! command -v chromium >/dev/null 2>&1; then
            apt_install chromium "Chromium, in which the tests open run reports"
        fi ;;
esac

python_bin="${PYTHON:-python3}"
if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "[setup] installing uv $UV_VERSION into .tools"
    "$python_bin" -m venv .tools
    .tools/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

sync_args=(sync --locked --python "$python_bin")
for extra in $extras; do
    sync_args+=(--extra "$extra")
done
echo "[setup] .venv from uv.lock (extras: ${extras:-none})"
UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv .tools/bin/uv "${sync_args[@]}" --quiet
# shellcheck disable=SC1091
source .venv/bin/activate
