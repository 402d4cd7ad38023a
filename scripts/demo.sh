#!/usr/bin/env bash
# Run opto's main demonstration on a fresh machine (installs what it needs first, from
# uv.lock): OptoPrime fixes a function (Trace's strange_sort_list example). Offline by
# default, with clearly labelled scripted replies and only the core dependencies installed;
# with a model configured (OPTO_LLM_MODEL or OPTO_LLM_BASE_URL, or Trace's TRACE_* variables)
# it also installs the LLM back-ends and asks the real model.
set -euo pipefail
extras=""
if env | grep -qE '^(OPTO_LLM_(MODEL|BASE_URL)|TRACE_(LITELLM_MODEL|CUSTOMLLM_URL|DEFAULT_LLM_BACKEND))='; then
    extras="llm"
fi
OPTO_SETUP_EXTRAS="$extras" source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python examples/quickstart.py --out demo-output "$@"
