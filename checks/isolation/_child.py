"""Child harness: load one submission, then serve calls over the protocol pipes.

Started by the parent as ``python -I -S -u /path/to/_child.py SPEC`` (by file path, never as a
package module); it imports only the standard library, numpy, and -- by file path --
``protocol.py`` and ``_sandbox.py`` from its own directory.  Sequence:

1. Put the site-packages directories given by the parent on ``sys.path`` *without* running
   ``.pth`` files (``-S``), so the editable-install finder of gradref is never installed, and
   put an import blocker first on ``sys.meta_path`` that refuses gradref's own top-level
   packages (``reference``, ``checks``, ...) and the ``__editable__`` finder modules.
2. Import numpy and the two helper modules while still running as the parent's user.
3. Open a directory descriptor for every ``sys.path`` entry, then apply the limits and drop to
   the sandbox uid (``_sandbox.enter``).  If the interpreter lives somewhere the sandbox uid
   cannot read (e.g. a pyenv under ``/root``, mode 0700), the unreadable ``sys.path`` entries
   and package ``__path__`` lists are re-pointed at ``/proc/self/fd/N``: the kernel lets a
   process follow its own descriptors, so later imports of the standard library still work,
   without granting the uid access to anything else under that directory.
4. Send ``{"status": "ready"}``.  Failures up to here are the isolation layer's (the parent
   raises ``IsolationError``); from now on everything is attributed to the submission.
5. Execute the submission's source in a fresh module named ``"submission"`` (registered in
   ``sys.modules``, ``__file__`` = ``submission.py`` in the workdir).  Because ``__name__`` is
   not ``"__main__"``, an ``if __name__ == "__main__": main()`` block does **not** run.
   Answer ``{"status": "loaded", "functions": [...]}`` or ``{"status": "load-error", ...}``.
6. Serve ``{"op": "call"}`` requests until the request pipe is closed.  Before each call the
   soft CPU limit is re-armed to "used so far + limit".  Any ``BaseException`` (including
   ``SystemExit`` and ``KeyboardInterrupt``) becomes an error answer with the exception type, a
   message and a short traceback formatted here and sent as JSON text.  The return value is
   encoded with the protocol encoder; unsendable values (generators, object arrays, ndarray
   subclasses...) become a ``bad-output`` answer.  stdout/stderr are flushed before answering.

The submission can of course tamper with all of this (it runs in the same process); the
parent therefore validates every byte it receives and kills the child on any anomaly.
"""

import importlib
import importlib.util
import json
import linecache
import os
import sys
import traceback
import types

_TRACEBACK_FRAMES = 8
_MAX_TEXT = 4000


class _Blocker:
    """Meta-path finder that refuses to import the grader's own packages."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.names or top.startswith("__editable__"):
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (the grader's own packages cannot be "
                "imported by a submission)",
                name=fullname,
            )
        return None


def _load_by_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _clip(text, limit=_MAX_TEXT):
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n[... {len(text) - limit} characters omitted ...]\n" + text[-half:]


def _describe(error, strip=""):
    """(type name, one-line-ish message, short traceback) without harness frames, with paths
    in the working folder shown relative to it."""
    name = type(error).__name__
    try:
        tb = error.__traceback__
        tb = tb.tb_next if tb is not None else None  # drop the harness frame
        formatted = traceback.TracebackException(
            type(error), error, tb, limit=-_TRACEBACK_FRAMES, compact=True
        )
        message = "".join(formatted.format_exception_only()).strip()
        text = "".join(formatted.format())
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not break the harness
        message, text = f"{name} (the exception could not be formatted)", ""
    return name, _clip(_strip(message, strip)), _clip(_strip(text, strip))


class _Channel:
    """The two protocol pipes.  Only the harness process itself may use them: a copy of the
    harness made by ``os.fork()`` inside the submission exits silently when it reaches the
    channel, so forked processes never steal requests or send duplicate answers."""

    def __init__(self, protocol, request_fd, response_fd, transfer):
        self.protocol = protocol
        self.request_fd = request_fd
        self.response_fd = response_fd
        self.transfer = transfer
        self.owner = os.getpid()

    def _check_owner(self):
        if os.getpid() != self.owner:
            _flush_output()
            os._exit(0)

    def read_exact(self, size):
        chunks = []
        while size > 0:
            chunk = os.read(self.request_fd, min(size, 1 << 20))
            if not chunk:
                raise EOFError("request pipe closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        self._check_owner()
        return self.protocol.read_frame(self.read_exact, max_bytes=1 << 40)

    def send(self, header, value=None):
        self._check_owner()
        _flush_output()
        try:
            data = self.protocol.pack(header, value, max_bytes=self.transfer)
        except self.protocol.ProtocolError as error:
            data = self.protocol.pack(_bad_output(header, str(error)))
        except MemoryError:
            data = self.protocol.pack(
                _bad_output(header, "the result is too large to encode (MemoryError)")
            )
        view = memoryview(data)
        while view:
            written = os.write(self.response_fd, view)
            view = view[written:]


def _bad_output(header, reason):
    return {
        "id": header.get("id"),
        "status": "error",
        "kind": "bad-output",
        "exception": None,
        "message": _clip(reason),
        "traceback": "",
        "cpu_left": header.get("cpu_left"),
    }


def _flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the submission may have replaced the stream
            pass


def _remap_unreadable_paths(directory_fds):
    """Point unreadable sys.path / package __path__ entries at /proc/self/fd/N."""
    replacements = {}
    for path, fd in directory_fds.items():
        if os.access(path, os.R_OK | os.X_OK):
            os.close(fd)
        else:
            replacements[path] = f"/proc/self/fd/{fd}"
    if not replacements:
        return 0

    def remap(entry):
        if not isinstance(entry, str):
            return entry
        for old, new in replacements.items():
            if entry == old or entry.startswith(old + os.sep):
                return new + entry[len(old) :]
        return entry

    sys.path[:] = [remap(entry) for entry in sys.path]
    for module in list(sys.modules.values()):
        search = getattr(module, "__dict__", {}).get("__path__")
        if isinstance(search, list):
            search[:] = [remap(entry) for entry in search]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    return len(replacements)


def _cpu_left():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY:
        return None
    return hard - (usage.ru_utime + usage.ru_stime)


def _start(spec):
    """Steps 1-3; returns (protocol module, sandbox module, submission source)."""
    for entry in spec["site_paths"]:
        if entry not in sys.path:
            sys.path.append(entry)
    sys.meta_path.insert(0, _Blocker(spec["blocked"]))
    import numpy  # noqa: F401 - imported before the privilege drop, on purpose

    here = os.path.dirname(os.path.abspath(__file__))
    protocol = _load_by_path("_gradref_isolation_protocol", os.path.join(here, "protocol.py"))
    sandbox = _load_by_path("_gradref_isolation_sandbox", os.path.join(here, "_sandbox.py"))
    # the submission's own folders first, as Python puts a script's folder first
    sys.path[0:0] = [entry for entry in spec["path_dirs"] if entry not in sys.path]
    directory_fds = {}
    for entry in sys.path:
        if isinstance(entry, str) and entry not in directory_fds and os.path.isdir(entry):
            try:
                directory_fds[entry] = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                pass
    sandbox.enter(spec["sandbox"])
    # read the submission right after entering: a failure here is the isolation layer's
    with open(spec["entry"], "rb") as handle:
        source = handle.read().decode("utf-8", "surrogateescape")
    _remap_unreadable_paths(directory_fds)
    # the working folder was filled by enter(): forget that it was missing before
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    sys.dont_write_bytecode = True
    return protocol, sandbox, source


def _strip(text, prefix):
    """Paths in the working folder shown relative to it (``hw.py``, ``cs231n/layers.py``)."""
    return text.replace(prefix, "") if prefix else text


def _new_module(name, path):
    """An empty module ``name`` whose ``__file__`` is ``path`` (any suffix, even .ipynb)."""
    import importlib.machinery

    module = types.ModuleType(name)
    module.__file__ = path
    module.__package__ = name.rpartition(".")[0]
    spec = importlib.machinery.ModuleSpec(name, None, origin=path)
    spec.has_location = True
    module.__spec__ = spec
    return module


def _load(channel, sandbox, spec, source):
    """Step 5; returns the submission module, or None after reporting a load error."""
    path = spec["entry"]
    name = spec["module"]
    strip = spec.get("strip", "")
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    module = _new_module(name, path)
    sys.argv = [_strip(path, strip)]
    sandbox.set_cpu_limit(spec["load_seconds"])
    try:
        if "\0" in source:  # Python 3.12+ says SyntaxError, earlier versions ValueError
            line = source.count("\n", 0, source.index("\0")) + 1
            raise SyntaxError("source code cannot contain null bytes", (path, line, 1, None))
        if module.__package__:
            importlib.import_module(module.__package__)
        sys.modules[name] = module
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - SystemExit/KeyboardInterrupt included
        name, message, text = _describe(error, strip)
        if isinstance(error, SyntaxError):
            text = _strip("".join(traceback.format_exception_only(type(error), error)), strip)
        channel.send(
            {
                "status": "load-error",
                "kind": "memory" if isinstance(error, MemoryError) else "load-error",
                "exception": name,
                "message": message,
                "traceback": _clip(text),
            }
        )
        return None
    functions = sorted(
        name
        for name, value in list(module.__dict__.items())
        if isinstance(name, str) and not name.startswith("__") and callable(value)
    )
    channel.send({"status": "loaded", "functions": functions})
    return module


def _serve(channel, sandbox, module, spec):
    """Step 6."""
    while True:
        try:
            header, value = channel.receive()
        except EOFError:
            return
        call_id = header.get("id")
        if header.get("op") != "call":
            continue
        name = header.get("function")
        target = module.__dict__.get(name) if isinstance(name, str) else None
        if target is None or not callable(target):
            found = "not defined" if target is None else f"a {type(target).__name__}, not a function"
            channel.send(
                {
                    "id": call_id,
                    "status": "error",
                    "kind": "missing-function",
                    "exception": None,
                    "message": f"{name} is {found} in the submission",
                    "traceback": "",
                    "cpu_left": _cpu_left(),
                }
            )
            continue
        if not (isinstance(value, tuple) and len(value) == 2):
            continue
        args, kwargs = value
        sandbox.set_cpu_limit(spec["call_seconds"])
        try:
            result = target(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001
            kind = "memory" if isinstance(error, MemoryError) else "exception"
            exception, message, text = _describe(error, spec.get("strip", ""))
            channel.send(
                {
                    "id": call_id,
                    "status": "error",
                    "kind": kind,
                    "exception": exception,
                    "message": message,
                    "traceback": text,
                    "cpu_left": _cpu_left(),
                }
            )
            continue
        channel.send({"id": call_id, "status": "ok", "cpu_left": _cpu_left()}, result)
        del result


def main():
    spec = json.loads(sys.argv[1])
    channel = None
    try:
        protocol, sandbox, source = _start(spec)
        channel = _Channel(protocol, spec["request_fd"], spec["response_fd"], spec["transfer"])
        channel.send({"status": "ready", "pid": os.getpid(), "uid": os.getuid()})
    except BaseException as error:  # noqa: BLE001
        sys.stderr.write(f"gradref isolation harness failed to start: {error!r}\n")
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)
    module = _load(channel, sandbox, spec, source)
    if module is not None:
        _serve(channel, sandbox, module, spec)
    _flush_output()
    os._exit(0)


if __name__ == "__main__":
    main()
