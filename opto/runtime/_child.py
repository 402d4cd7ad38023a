"""Entry point of the sandbox child process (stdlib only).

The parent starts ``python -I -c <STARTER> <size>``; stdin first carries this module and
its helper modules, compiled by the parent and marshalled (the starter installs them as
modules), then the configuration from the trusted parent (plain data, a pickle preceded by
its length), then the request (a pickle, also preceded by its length). The child reads the
configuration, confines itself (``_confine``, ``_seccomp``), installs the audit hook
(``_guard``) and imports the modules the configuration names in ``preload``; only then does
it read the request, unpickle it and run the code. A warm worker of a pool (``_pool``) is a
child waiting at that point: the sequence is the same whether the request was written at once
(a cold call) or later. End of input before a request ends the child quietly (its pool closed).

It answers with exactly one dict of plain data in the format of ``_wire_format`` (not a
pickle: the parent must be able to decode a forged answer within bounds), preceded by its
length, on its original stdout, then ends with ``os._exit``. What the code prints goes to stderr, which the parent
collects.
"""

import os
import sys

_RESERVE_BYTES = 4 << 20  # freed on MemoryError so the report can still be written
_reserve: list[bytearray] = []
_MAX_TEXT = 20_000
READY = bytes(8)  # an empty frame, sent once confined and preloaded (an answer is not empty)


def entry() -> None:
    """Run ``main`` and end the process without running any code's atexit handlers."""
    try:
        main()
    except BaseException:
        import traceback

        traceback.print_exc()
        _flush()
        os._exit(70)
    _flush()
    os._exit(0)


def main() -> None:
    _reserve.append(bytearray(_RESERVE_BYTES))
    result_fd = os.dup(1)
    os.dup2(2, 1)
    import _pickle  # the C pickler: ``pickle.py`` would import ``re`` and cost start-up time

    import _wire_format

    config = _pickle.loads(read_frame())

    def send(message: dict, encode=_wire_format.encode, write=os.write) -> None:
        blob = encode(message)  # framed, so the parent need not wait for this process to end
        for part in (len(blob).to_bytes(8, "little"), blob):
            view = memoryview(part)
            while view:
                view = view[write(result_fd, view) :]

    import _confine as confine

    layers = confine.apply(config)
    disabled = set(config.get("disable_layers", ()))
    name_code = None
    if "audit_hook" in disabled:
        layers["audit_hook"] = "disabled by configuration"
    else:
        import _guard as guard

        def report(operation: str, detail: str, line) -> None:
            send({"kind": "forbidden", "operation": operation, "detail": detail, "line": line})
            _flush()

        sys.dont_write_bytecode = True
        name_code = guard.install(config["work_dir"], report)
        layers["audit_hook"] = "on"
    missing = [
        name for name in config.get("require", ()) if not layers.get(name, "").startswith("on")
    ]
    if missing:
        send({"kind": "unavailable", "missing": missing, "layers": layers})
        return
    sys.path[:] = config["sys_path"]
    sys.dont_write_bytecode = True
    preload_modules(config.get("preload", ()))
    os.write(result_fd, READY)  # before any request is read: the code cannot have written it
    data = read_frame()  # framed, not read to the end: a forked copy of the parent may
    # hold the other end of this pipe open
    try:
        request = _pickle.loads(data)
        filename = request["filename"]
    except BaseException as error:
        send({"kind": "transfer", "detail": f"the request could not be read: {_text(error)}"})
        return
    if name_code is not None:
        name_code(filename)
    del name_code, data
    message = _run(request, config.get("max_result_size"))
    message["layers"] = layers
    send(message)


def _run(request: dict, max_result_size) -> dict:
    import _pickle as pickle
    import builtins

    import _wire_format

    source, name, filename = request["source"], request["function_name"], request["filename"]
    scope = {"__name__": request["module_name"], "__builtins__": builtins}
    missing = dict(request["untransferable"])
    for alias, module_name in request["modules"].items():
        try:
            __import__(module_name)
            scope[alias] = sys.modules[module_name]
        except BaseException as error:
            missing[alias] = f"importing {module_name} failed: {_text(error)}"
    for alias, blob in request["values"].items():
        try:
            scope[alias] = pickle.loads(blob)
        except BaseException as error:
            missing[alias] = _text(error)
    try:
        args, kwargs = pickle.loads(request["arguments"])
    except BaseException as error:
        return {"kind": "transfer", "detail": f"the arguments could not be rebuilt: {_text(error)}"}
    before = set(scope)
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), scope)
        function = scope.get(name)
        if not callable(function):
            defined = [key for key, value in scope.items() if callable(value) and key not in before]
            return {"kind": "missing_function", "name": name, "defined": defined}
        value = function(*args, **kwargs)
        if _is_awaitable(value):
            value = _await(value)
    except BaseException as error:
        _reserve.clear()
        return _describe(error, source, filename, missing)
    kind = type(value)
    type_name = f"{kind.__module__}.{kind.__qualname__}"
    try:
        blob = _wire_format.encode(value, max_result_size)
    except _wire_format.AnswerTooLarge:
        return {"kind": "too_large"}
    except BaseException as error:
        _reserve.clear()
        return {"kind": "unpicklable", "type": type_name, "detail": _text(error)}
    return {"kind": "ok", "value": blob, "type": type_name}


def _describe(error: BaseException, source: str, filename: str, missing: dict) -> dict:
    import linecache
    import traceback

    import _wire_format

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    line = None
    walker = tb
    while walker is not None:
        if walker.tb_frame.f_code.co_filename == filename:
            line = walker.tb_lineno
        walker = walker.tb_next
    message = _text(error, with_type=False)
    unknown = getattr(error, "name", None)
    hinted = isinstance(error, NameError) and unknown in missing
    if hinted:
        message += (
            f" (the calling program defines {unknown!r}, but it could not be sent to the "
            f"sandbox: {missing[unknown]}; define or import it inside the code)"
        )
    try:
        text = "".join(traceback.format_exception(type(error), error, tb))
    except BaseException:
        text = ""
    try:
        args = None if hinted else _wire_format.encode(error.args, 1 << 20)
    except BaseException:
        args = None
    kind = type(error)
    return {
        "kind": "raised",
        "type_module": kind.__module__,
        "type_name": kind.__qualname__,
        "message": message,
        "args": args,
        "traceback": text[-_MAX_TEXT:],
        "line": line,
    }


def _text(error: BaseException, with_type: bool = True) -> str:
    try:
        text = str(error)
    except BaseException:
        text = "<the exception message could not be printed>"
    if with_type:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text[:_MAX_TEXT]


def _is_awaitable(value) -> bool:
    if not hasattr(type(value), "__await__"):
        return False
    import inspect

    return inspect.isawaitable(value)


def _await(awaitable):
    import asyncio

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def preload_modules(names) -> None:
    """Import trusted modules the parent names, already confined, as the code itself would.
    A module that fails to import is skipped: the code's own import then reports why."""
    for name in names:
        try:
            __import__(name)
        except BaseException:  # the code's own import of it reports the failure
            continue


def read_frame() -> bytearray:
    """The next input from the parent: 8 bytes of length, then that many bytes. End of input
    before it starts means the parent (its pool) no longer wants this child: exit quietly."""
    size = int.from_bytes(_read_exactly(8), "little")
    return _read_exactly(size)


def _read_exactly(size: int) -> bytearray:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, min(size - len(data), 1 << 20))
        if not chunk:
            _flush()
            os._exit(0 if not data else 71)
        data += chunk
    return data


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # a replaced or broken stream must not stop the report
            continue
