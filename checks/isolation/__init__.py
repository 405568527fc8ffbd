"""Isolation layer: run untrusted code (student submissions, other people's implementations)
in a sandboxed child process and get back only plain arrays / JSON.

Public API::

    Limits(wall=10.0, cpu=10.0, memory=1 GiB, processes=64, output=64 KiB,
           load=20.0, file_size=64 MiB, transfer=256 MiB, budget=300.0, disk=256 MiB)
    with PythonSubmission(source_or_path, filename="hw.py", files={"dnn_utils.py": path},
                          import_roots=[...], limits=Limits(...), isolation="auto") as sub:
        result: CallResult = sub.call("L_model_forward", X, parameters)
        sub.isolation      # Isolation(level, limits_scope): every report states it
    run_command(argv_or_shell_string, limits=..., cwd=None, *, inputs=..., outputs=...)
        -> ProcessResult
    load_source(path) -> str          # .py, or the code cells of a .ipynb
    IsolationError                    # the isolation layer itself could not run

Validation (running an engineer's gradient function) and grading (running a student's
functions) both go through here; untrusted code is never imported into the parent.

Design (details in each module's docstring)
-------------------------------------------
* ``process.Sandbox`` is the one spawning/limiting/killing mechanism: a fresh private working
  folder holding the submission's files (:mod:`.files`; ``HOME``/``TMPDIR``), a clean
  environment, a new session/process group, stdout/stderr through pipes the parent drains while
  it waits (kept up to ``Limits.output`` per call, the rest discarded: a write never fails), and
  a kill that ends every process of the submission (bubblewrap's PID namespace; at the fallback
  levels the group and, for a dedicated uid, every process of that uid), then reaps.
* Limits are applied inside the child by ``_sandbox.enter``: ``RLIMIT_AS``, ``RLIMIT_CPU``,
  ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, no core files, ``PR_SET_NO_NEW_PRIVS``.  A root parent
  runs children as a throw-away uid from a locked pool (``uids``), because root ignores
  ``RLIMIT_NPROC`` and could write the grader's files.
* Python children start with ``python -I -S -u <private copy>/_child.py`` (harness by path,
  never as a package module, never from gradref's folder); ``.pth`` files are not executed, and
  a meta-path blocker refuses ``reference``/``checks``/``gradref`` (advisory: the boundary is
  that those files do not exist in the child's view).
* ``protocol``: length-prefixed frames over dedicated pipes (``pass_fds``), a JSON header and
  ``.npy`` blobs (``allow_pickle=False``), validated on receipt (dtype, shape vs. size, each
  array referenced once, bounded JSON size, depth and array count); no pickle anywhere.  The
  child works on copies, so it cannot alter the parent's arrays; comparisons happen in the
  parent, so monkeypatching numpy in the child (``np.allclose = lambda *a, **k: True``) or
  printing "PASSED" changes nothing.  numpy scalars come back as 0-d arrays.
* One persistent child per submission (start ~0.3-0.4 s under bubblewrap, see
  ``bench/isolation.py``; a small call ~1 ms).  A failed call never blocks the next: after a
  timeout, a crash or protocol garbage the child is killed and lazily restarted (re-loading
  the submission).  A child
  gets ``PR_SET_PDEATHSIG``, so it dies if the grader process dies.

Isolation levels (:mod:`.levels`, one interface: ``Sandbox(level=...)``)
-----------------------------------------------------------------------
* ``namespaces`` (default where bubblewrap works; :mod:`.namespaces` builds the command line): no
  network, own IPC/PID/UTS namespaces, a read-only view holding only the Python runtime, numpy
  and a private copy of the three harness files, the submission's own files copied onto a
  size-limited tmpfs; as root a throw-away uid with no capabilities.  Memory and processes are
  limited for the whole submission by a cgroup (:mod:`.cgroups`, v2 or v1) where one can be
  created, else per process.  External programs (``run_command``) see the host read-only.
* ``uid`` (root without bubblewrap): the throw-away uid machinery of :mod:`.uids` and
  ``process._kill_stragglers``; gradref's own folder is made unreadable to sandbox uids first.
* ``none`` (neither): the grader's user, per-process limits; for trusted code.

Residual risks (honest list)
----------------------------
* All levels share the kernel (no seccomp filter, no VM): a kernel exploit escapes.
* ``namespaces`` without a cgroup: ``RLIMIT_AS`` limits each process separately (up to
  ``processes`` processes may each use ``memory``); the report says "per process".
* ``uid``: the child shares the network and IPC with the grader and can read every world-readable
  file (other submissions in a world-readable folder, the grader's command line in ``/proc``);
  files it leaves in ``/tmp``/``/dev/shm`` are removed when its uid is released.  ``none``: the
  child can do whatever the grader's user can.
* The child can see its own protocol descriptors and corrupt them (the parent then reports a
  failed call and restarts it); it can tamper with the harness in its own process, which is why
  every comparison happens in the parent.
* ``PR_SET_PDEATHSIG`` follows the *thread* that started the child: a child started from a
  thread that then exits is killed (the next call transparently starts a new one).
"""

from .command import ProcessResult, run_command
from .errors import IsolationError
from .limits import Limits
from .source import load_source
from .submission import CallResult, PythonSubmission

__all__ = [
    "CallResult",
    "IsolationError",
    "Limits",
    "ProcessResult",
    "PythonSubmission",
    "load_source",
    "run_command",
]
