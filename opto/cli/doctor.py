"""``opto doctor``: what this machine offers opto, one line per check.

Versions (read from package metadata: nothing is imported), Graphviz's ``dot``, the LLM that
``LLM()`` would use and whether its endpoint answers (one request with a short timeout; no
key is ever printed), and the sandbox layers this kernel gives a child process. A line is
``ok``, ``warn`` (works, with less) or ``FAIL``; any failure makes the exit code 1.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

PACKAGES = (
    ("graphviz", "core"),
    ("rich", "core"),
    ("diskcache", "core"),
    ("litellm", "llm"),
    ("openai", "llm"),
    ("numpy", "discovery"),
    ("matplotlib", "discovery"),
    ("black", "format"),
    ("dask", "dask"),
    ("llm4ad", "tasks"),
)
PROVIDER_ENDPOINTS = {
    "openai": "https://api.openai.com/v1/models",
    "anthropic": "https://api.anthropic.com/v1/models",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models",
    "mistral": "https://api.mistral.ai/v1/models",
    "groq": "https://api.groq.com/openai/v1/models",
}


@dataclass
class Check:
    """One line of the report: ``status`` is ``ok``, ``warn`` or ``FAIL``, ``name`` says
    what was checked (``Graphviz``, ``LLM``, ``sandbox``) and ``detail`` what was found."""

    status: str
    name: str
    detail: str

    def line(self) -> str:
        """The check as one aligned line of the report, status first."""
        return f"[{self.status:<4}] {self.name}: {self.detail}"


def versions() -> str:
    """opto, Python and each optional package's version (or which extra installs it)."""
    found = []
    for package, extra in PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} missing (opto[{extra}])")
    try:
        own = version("opto")
    except PackageNotFoundError:
        own = "not installed"
    python = f"{platform.python_version()} ({sys.implementation.name}, {platform.system()} {platform.machine()})"
    return f"opto {own} on Python {python}\n  packages: " + ", ".join(found)


def check_graphviz() -> Check:
    """Whether Graphviz's ``dot`` is on the PATH and runs: without it graphs are still
    built, but not drawn (a warning, not a failure)."""
    program = shutil.which("dot")
    if program is None:
        return Check(
            "warn",
            "Graphviz",
            "dot not found: graphs are built but not drawn (apt-get install graphviz, "
            "brew install graphviz)",
        )
    try:
        done = subprocess.run([program, "-V"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("FAIL", "Graphviz", f"{program} does not run: {error}")
    text = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
    return Check("ok", "Graphviz", text or program)


def check_llm(timeout: float, network: bool) -> list[Check]:
    """The configured model, and whether its endpoint answers (any HTTP status counts).

    ``timeout`` bounds the probe in seconds; ``network=False`` (``opto doctor --offline``)
    reports the configuration without contacting the endpoint.
    """
    from opto.llm.config import resolve_config
    from opto.llm.errors import BackendUnavailableError

    try:
        config = resolve_config()
    except BackendUnavailableError as error:
        return [Check("FAIL", "LLM", str(error))]
    if config.model is None and not config.base_url:
        return [Check("warn", "LLM", "none configured (set OPTO_LLM_MODEL; see docs/llm.md)")]
    key = (
        "an API key is set"
        if config.api_key or _provider_key_set(config.model)
        else "no API key set"
    )
    described = f"{config.model or '(server default)'} via the {config.backend} backend"
    if config.base_url:
        described += f" at {config.base_url}"
    checks = [Check("ok", "LLM", f"{described}; {key}")]
    url = _endpoint(config.base_url, config.model)
    if url is None:
        checks.append(
            Check("warn", "endpoint", "not checked: the provider's address is not known here")
        )
    elif not network:
        checks.append(Check("warn", "endpoint", f"{url} not checked (--offline)"))
    else:
        checks.append(_probe(url, timeout))
    return checks


def _provider_key_set(model: str | None) -> bool:
    provider = _provider(model)
    return bool(provider and os.environ.get(f"{provider.upper()}_API_KEY"))


def _provider(model: str | None) -> str | None:
    if not model:
        return None
    if "/" in model:
        return model.split("/", 1)[0].lower()
    if model.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        return "openai"
    if model.startswith("claude"):
        return "anthropic"
    return None


def _endpoint(base_url: str | None, model: str | None) -> str | None:
    if base_url:
        return base_url.rstrip("/") + "/models"
    return PROVIDER_ENDPOINTS.get(_provider(model) or "")


def _probe(url: str, timeout: float) -> Check:
    """One GET with ``timeout``: any HTTP answer (even 401) means the endpoint is there."""
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "opto-doctor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Check("ok", "endpoint", f"{url} answers (HTTP {response.status})")
    except urllib.error.HTTPError as error:
        return Check("ok", "endpoint", f"{url} answers (HTTP {error.code})")
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Check("FAIL", "endpoint", f"{url} does not answer within {timeout:g} s: {reason}")


def check_sandbox() -> Check:
    """Start one sandbox child and report which confinement layers took effect."""
    from opto.runtime import SandboxError, SubprocessPolicy

    try:
        layers = SubprocessPolicy(wall_time=30.0).probe()
    except SandboxError as error:
        return Check("FAIL", "sandbox", f"a sandbox child could not run: {error}")
    on = [name for name, state in layers.items() if state.startswith("on")]
    off = [f"{name} ({state})" for name, state in layers.items() if not state.startswith("on")]
    detail = "layers on: " + (", ".join(on) or "none")
    if off:
        detail += "; off: " + ", ".join(off)
    return Check("ok" if not off else "warn", "sandbox", detail)


def doctor(timeout: float = 3.0, network: bool = True) -> tuple[str, bool]:
    """The report's text and whether every check passed (no ``FAIL``).

    ``timeout`` is how many seconds the LLM endpoint has to answer; ``network=False`` skips
    every check that would leave the machine.
    """
    checks = [check_graphviz(), *check_llm(timeout, network), check_sandbox()]
    text = "\n".join([versions(), *(check.line() for check in checks)])
    return text, all(check.status != "FAIL" for check in checks)
