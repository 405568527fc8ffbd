"""Isolation layer: run untrusted code (student submissions, other people's implementations)
in a sandboxed child process and get back only plain arrays / JSON.

Public API::

    Limits(wall=10.0, cpu=10.0, memory=1 GiB, processes=64, output=64 KiB,
           load=20.0, file_size=64 MiB, transfer=256 MiB)
    with PythonSubmission(source_or_path, limits=Limits(...)) as sub:
        result: CallResult = sub.call("L_model_forward", X, parameters)
    run_command(argv_or_shell_string, limits=..., cwd=None, *, inputs=..., outputs=...)
        -> ProcessResult
    load_source(path) -> str          # .py, or the code cells of a .ipynb
    IsolationError                    # the isolation layer itself could not run

Validation (running an engineer's gradient function) and grading (running a student's
functions) both go through here; untrusted code is never imported into the parent.

Design (details in each module's docstring)
-------------------------------------------
* ``process.Sandbox`` is the one spawning/limiting/killing mechanism: a fresh private temp
  workdir (``HOME``/``TMPDIR``), a clean environment, a new session/process group,
  stdout/stderr to files in the workdir read back through the parent's own descriptors and
  truncated to ``Limits.output``, and a kill that SIGKILLs the group and, for a dedicated uid,
  every process of that uid (also ``setsid`` escapees), then reaps the zombies.
* Limits are applied inside the child by ``_sandbox.enter``: ``RLIMIT_AS``, ``RLIMIT_CPU``,
  ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, no core files, ``PR_SET_NO_NEW_PRIVS``.  A root parent
  runs children as a throw-away uid from a locked pool (``uids``), because root ignores
  ``RLIMIT_NPROC`` and could write the grader's files.
* Python children start with ``sys.executable -I -S -u _child.py`` (harness by path, never as
  a package module); ``.pth`` files are not executed, so gradref's editable finder is never
  installed, and a meta-path blocker refuses ``reference``/``checks``/``gradref``.
* ``protocol``: length-prefixed frames over dedicated pipes (``pass_fds``), a JSON header and
  ``.npy`` blobs (``allow_pickle=False``), validated on receipt (dtype, shape vs. size, each
  array referenced once, bounded JSON size, depth and array count); no pickle anywhere.  The
  child works on copies, so it cannot alter the parent's arrays; comparisons happen in the
  parent, so monkeypatching numpy in the child (``np.allclose = lambda *a, **k: True``) or
  printing "PASSED" changes nothing.  numpy scalars come back as 0-d arrays.
* One persistent child per submission (start ~0.1-0.3 s, dominated by ``import numpy``; a small
  call ~1 ms).  A failed call never blocks the next: after a timeout, a crash or protocol
  garbage the child is killed and lazily restarted (re-loading the submission).  A child
  gets ``PR_SET_PDEATHSIG``, so it dies if the grader process dies.

Residual risks (honest list)
----------------------------
* This is process isolation, not a security boundary like a VM or a container with seccomp:
  the child shares the kernel, the network and the file system view of the parent.
* **The reference implementation is readable.**  The import blocker stops ``import reference``
  and the editable finder is never installed, but the child can remove the blocker, or read
  ``reference/*.py`` by path if those files are world-readable (they usually are), and
  re-execute them.  For exams, deploy so that the sandbox uid cannot read the repository
  (e.g. ``chmod o-rwx`` on it, or grade from a copy without ``reference/``).
* The child can read every world-readable file and write world-writable places (``/tmp``,
  ``/dev/shm``); top-level entries it leaves there are removed when its uid is released, but
  its file *count* and any deeper disk usage are only bounded by ``RLIMIT_FSIZE`` per file.
* The child can use the network.  It can see its own protocol descriptors and corrupt them
  (the parent then reports a failed call and restarts it).
* Without root (no dedicated uid) the child runs as the grader's user: ``processes`` counts
  all of that user's processes, the child could signal or modify the grader's processes and
  files, and stragglers that escaped the process group are only found by an environment token
  (best effort).
* ``RLIMIT_AS`` limits each process separately; up to ``processes`` processes may each use
  ``memory``.  The wall-clock limit is the real bound on time; ``RLIMIT_CPU`` can be raised
  by the submission up to the child's lifetime hard limit.
* To reach stdlib modules when the interpreter lives in a directory the sandbox uid cannot
  read (pyenv under ``/root``), the child keeps read-only directory descriptors to those
  ``sys.path`` directories; the submission can list/read files below them (and only there).
* If the grader is killed, its direct children die with it (``PR_SET_PDEATHSIG``) but
  grandchildren of a submission survive until something kills their uid; such a uid is
  skipped by later leases because it still has processes.  ``PR_SET_PDEATHSIG`` follows the
  *thread* that started the child: a child started from a thread that then exits is killed
  (the next call transparently starts a new one).
* The parent becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``) so that orphans can be
  reaped in containers whose PID 1 does not reap; unrelated orphans of the parent process are
  then adopted by it as well.
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
