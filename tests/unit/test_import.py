import subprocess
import sys

HEAVY = ("litellm", "openai", "numpy", "matplotlib", "dask", "black")


def test_import_opto_loads_no_provider_sdk_or_heavy_dependency():
    code = (
        f"import sys, opto, opto.trace\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_public_names():
    import opto
    from opto import trace

    assert opto.__version__
    for name in (
        "node",
        "Node",
        "ParameterNode",
        "MessageNode",
        "ExceptionNode",
        "GRAPH",
        "stop_tracing",
        "ExecutionError",
        "TraceMissingInputsError",
        "operators",
    ):
        assert hasattr(trace, name), name
