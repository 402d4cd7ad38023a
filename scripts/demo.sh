#!/usr/bin/env bash
# Run opto's main demonstration on a fresh machine (installs what it needs first).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python examples/trace_graph_demo.py --out demo-output "$@"
