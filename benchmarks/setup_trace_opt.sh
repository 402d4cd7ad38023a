#!/usr/bin/env sh
# Make a separate virtual environment with Microsoft's Trace (PyPI: trace-opt), so that
# `python benchmarks/run.py` can run every case side by side against it.
#
# Usage: benchmarks/setup_trace_opt.sh [VENV_DIR]
#   VENV_DIR           default: benchmarks/.venv-trace-opt (git-ignored; found by run.py)
#   PYTHON=python3.11  interpreter to build the venv from (default: python3)
#   TRACE_OPT_VERSION  pin a version, e.g. TRACE_OPT_VERSION=0.1.3.8
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-"$here/.venv-trace-opt"}
python=${PYTHON:-python3}
requirement="trace-opt${TRACE_OPT_VERSION:+==$TRACE_OPT_VERSION}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$requirement"
"$venv/bin/python" -c "import importlib.metadata as m; print('trace-opt', m.version('trace-opt'), 'installed in $venv')"

if [ "$venv" != "$here/.venv-trace-opt" ]; then
    echo "run.py looks in benchmarks/.venv-trace-opt; for this venv use:"
    echo "  export OPTO_BENCH_TRACE_OPT_PYTHON=$venv/bin/python"
fi
