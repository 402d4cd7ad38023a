#!/usr/bin/env bash
# Run opto's main demonstration on a fresh machine (installs what it needs first):
# OptoPrime fixes a function (Trace's strange_sort_list example). Offline by default, with
# clearly labelled scripted replies; with OPTO_LLM_MODEL (and its API key) set, a real LLM.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python examples/quickstart.py --out demo-output "$@"
