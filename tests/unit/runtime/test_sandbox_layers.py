"""Each confinement layer on its own, with the Python-level audit hook switched off, so the
kernel layers are shown to hold against code that gets past the hook."""

import socket
import sys

import pytest

from opto.runtime import LAYERS, SandboxUnavailableError, SubprocessPolicy

pytestmark = pytest.mark.usefixtures("no_leftover_processes")
KERNEL_LAYERS = ("namespaces", "landlock", "seccomp")


def only(layer: str) -> SubprocessPolicy:
    others = tuple(name for name in LAYERS if name not in (layer, "limits"))
    return SubprocessPolicy(
        wall_time=3.0, cpu_time=2.0, memory="256MB", disable_layers=others, echo_output=False
    )


def require_layer(layer: str) -> None:
    state = only(layer).probe()[layer]
    if not state.startswith("on"):
        pytest.skip(f"this system does not provide the {layer} layer: {state}")


def test_probe_reports_every_layer():
    states = SubprocessPolicy().probe()
    assert set(states) == set(LAYERS)
    assert states["limits"].startswith("on") and states["audit_hook"] == "on"
    if sys.platform.startswith("linux"):
        assert all(isinstance(states[name], str) and states[name] for name in KERNEL_LAYERS)


def test_disabled_layers_say_so():
    states = SubprocessPolicy(disable_layers=KERNEL_LAYERS).probe()
    assert all(states[name] == "disabled by configuration" for name in KERNEL_LAYERS)


def test_a_required_layer_that_is_off_stops_the_call_before_any_code_runs(capsys):
    policy = SubprocessPolicy(require=("seccomp",), disable_layers=("seccomp",))
    code = "print('the code ran')\ndef f():\n    print('the function ran')\n"
    with pytest.raises(SandboxUnavailableError, match="seccomp: disabled by configuration"):
        policy.load(code, "f")()
    assert "ran" not in capsys.readouterr().out


FORK_ATTEMPTS = (
    "import os\n"
    "def f():\n"
    "    started = 0\n"
    "    for _ in range(20):\n"  # bounded and linear: harmless even if a layer failed
    "        try:\n"
    "            pid = os.fork()\n"
    "        except OSError as error:\n"
    "            return started, error.errno\n"
    "        if pid == 0:\n"
    "            os._exit(0)\n"
    "        started += 1\n"
    "        os.waitpid(pid, 0)\n"
    "    return started, None\n"
)


def test_seccomp_alone_refuses_new_processes():
    require_layer("seccomp")
    started, errno = only("seccomp").load(FORK_ATTEMPTS, "f")()
    assert (started, errno) == (0, 1)  # EPERM at the first attempt


def test_seccomp_alone_refuses_running_programs():
    require_layer("seccomp")
    code = "import os\ndef f():\n    try:\n        os.execv('/bin/true', ['true'])\n    except OSError as e:\n        return e.errno\n"
    assert only("seccomp").load(code, "f")() == 1


SIGNAL_PARENT = (
    "import os\n"
    "def f():\n"
    "    try:\n"
    "        os.kill(os.getppid(), 0)\n"  # signal 0 only checks permission: harmless if allowed
    "    except OSError as error:\n"
    "        return error.errno\n"
    "    return 'allowed'\n"
)


@pytest.mark.parametrize("layer", ["seccomp", "landlock"])
def test_signalling_the_parent_is_refused_by_the_kernel(layer):
    require_layer(layer)
    if layer == "landlock" and "no signal rules" in only(layer).probe()[layer]:
        pytest.skip("Landlock scopes signals from ABI 6 on")
    assert only(layer).load(SIGNAL_PARENT, "f")() == 1


def test_landlock_alone_refuses_writes_outside_the_working_directory(tmp_path):
    require_layer("landlock")
    target = tmp_path / "planted.txt"
    code = (
        "def f(path):\n"
        "    open('inside.txt', 'w').write('fine')\n"
        "    try:\n"
        "        open(path, 'w').write('owned')\n"
        "    except OSError as error:\n"
        "        return error.errno\n"
    )
    assert only("landlock").load(code, "f")(str(target)) == 13  # EACCES
    assert not target.exists()


CONNECT = (
    "import socket\n"
    "def f(port):\n"
    "    try:\n"
    "        socket.create_connection(('127.0.0.1', port), timeout=1).close()\n"
    "    except OSError as error:\n"
    "        return error.errno\n"
    "    return 'connected'\n"
)


@pytest.mark.parametrize("layer", KERNEL_LAYERS)
def test_each_kernel_layer_alone_keeps_the_network_out(layer):
    require_layer(layer)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        outcome = only(layer).load(CONNECT, "f")(server.getsockname()[1])
        assert outcome != "connected" and isinstance(outcome, int)
        with pytest.raises(TimeoutError):
            server.accept()


def test_without_any_layer_the_same_code_does_connect():
    """The control for the test above: the server is reachable when nothing confines the code."""
    everything_off = SubprocessPolicy(
        disable_layers=(*KERNEL_LAYERS, "audit_hook"), echo_output=False
    )
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert everything_off.load(CONNECT, "f")(server.getsockname()[1]) == "connected"


def test_namespaces_bound_the_disk_space_of_the_working_directory():
    require_layer("namespaces")
    if "not size-limited" in only("namespaces").probe()["namespaces"]:
        pytest.skip("this system cannot mount a tmpfs in a user namespace")
    code = (
        "def f():\n"
        "    written = 0\n"
        "    try:\n"
        "        for index in range(20):\n"
        "            with open(f'part{index}', 'wb') as handle:\n"
        "                handle.write(b'x' * 2**20)\n"
        "            written += 1\n"
        "    except OSError as error:\n"
        "        return written, error.errno\n"
        "    return written, None\n"
    )
    policy = SubprocessPolicy(work_dir_size="4MiB", echo_output=False)
    written, errno = policy.load(code, "f")()
    assert written <= 4 and errno == 28  # ENOSPC: each file is allowed, their sum is not
