#!/usr/bin/env bash
# Run opto's checks and test suite on a fresh machine (installs what it needs first, from
# uv.lock, with the development extras). Extra arguments go to pytest.
set -euo pipefail
OPTO_SETUP_EXTRAS="dev" source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
command -v dot >/dev/null 2>&1 && dot -V
ruff check .
python -m pytest -q "$@"
