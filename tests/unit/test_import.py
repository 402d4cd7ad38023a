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


def test_version_comes_from_the_package_metadata():
    import importlib.metadata

    import opto
    from opto.version import __version__

    assert opto.__version__ == __version__ == importlib.metadata.version("opto")


def test_the_package_declares_its_type_hints():
    import importlib.resources
    from pathlib import Path

    assert importlib.resources.files("opto").joinpath("py.typed").is_file()
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\nopto = ["py.typed"]' in pyproject  # wheels ship it
