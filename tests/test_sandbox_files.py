"""A submission made of several files, at every isolation level this machine has.

The entry file keeps its real name (``__file__``, tracebacks, load errors), helper files and
package folders are copied beside it at their relative paths, extra import roots are visible
read-only, and what a submission prints never makes a write fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gradref.checks.isolation import Limits, PythonSubmission
from gradref.checks.isolation.levels import available_level

ROOT = os.geteuid() == 0
FALLBACK = "uid" if ROOT else "none"
LEVELS = list(dict.fromkeys([available_level(), FALLBACK]))
MiB = 2**20
LIMITS = Limits(wall=5.0, cpu=5.0, memory=512 * MiB, processes=32, output=4096, load=10.0)


@pytest.fixture(params=LEVELS)
def level(request):
    return request.param


def test_entry_file_keeps_its_name_in_file_and_tracebacks(level):
    source = "import os\ndef where():\n    return __file__, __name__, os.getcwd()\n" \
             "def boom():\n    raise ValueError('no')\n"
    with PythonSubmission(source, filename="hw3.py", limits=LIMITS, isolation=level) as sub:
        file, name, cwd = sub.call("where").value
        assert Path(file).name == "hw3.py" and Path(file).parent == Path(cwd)
        assert name == "hw3"
        failed = sub.call("boom")
    assert 'File "hw3.py", line 5, in boom' in failed.traceback, failed.traceback
    assert "submission.py" not in failed.traceback


def test_load_error_names_the_real_file(level):
    with PythonSubmission("x = 1\ndef f(:\n", filename="my_notebook.ipynb", limits=LIMITS,
                          isolation=level) as sub:
        failure = sub.start()
    assert failure is not None and failure.kind == "load-error"
    assert "my_notebook.ipynb" in failure.traceback and "line 2" in failure.traceback


def test_helper_modules_and_data_files_beside_the_entry(tmp_path, level):
    (tmp_path / "dnn_utils.py").write_text("def relu(z):\n    return max(z, 0)\n")
    source = "from dnn_utils import relu\nimport dnn_utils\n" \
             "def f(z):\n    return relu(z), open('data.txt').read(), dnn_utils.__file__\n"
    files = {"dnn_utils.py": tmp_path / "dnn_utils.py", "data.txt": b"payload"}
    with PythonSubmission(source, filename="notebook.ipynb", files=files, limits=LIMITS,
                          isolation=level) as sub:
        value = sub.call("f", -3).value
    assert value[:2] == (0, "payload")
    assert value[2].endswith("/dnn_utils.py")


def test_package_folder_with_relative_imports(tmp_path, level):
    package = tmp_path / "cs231n"
    (package / "classifiers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text("def affine(x, w):\n    return x * w\n")
    (package / "layer_utils.py").write_text("from .layers import affine\n"
                                            "def twice(x, w):\n    return 2 * affine(x, w)\n")
    (package / "classifiers" / "__init__.py").write_text("")
    entry = "from ..layer_utils import twice\nfrom cs231n.layers import affine\n" \
            "def loss(x, w):\n    return twice(x, w) + affine(x, w)\n" \
            "def broken():\n    return twice(None, [1])\n"
    with PythonSubmission(entry, filename="cs231n/classifiers/fc_net.py",
                          files={"cs231n": package}, limits=LIMITS, isolation=level) as sub:
        assert sub.module == "cs231n.classifiers.fc_net"
        assert sub.call("loss", 3, 2).value == 18
        failed = sub.call("broken")
    assert 'File "cs231n/layers.py", line 2, in affine' in failed.traceback, failed.traceback


def test_import_roots_are_importable_read_only(tmp_path, level):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "mathutil.py").write_text("def sq(x):\n    return x * x\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(lib, 0o755)
    source = "import mathutil\ndef f(x):\n    return mathutil.sq(x)\n" \
             "def write():\n    open(mathutil.__file__, 'a').write('#')\n"
    with PythonSubmission(source, import_roots=[lib], limits=LIMITS, isolation=level) as sub:
        assert sub.call("f", 7).value == 49
        assert not sub.call("write").ok
    assert (lib / "mathutil.py").read_text().endswith("x * x\n")


def test_symlinks_and_special_files_are_not_copied(tmp_path, level):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "ok.py").write_text("X = 1\n")
    (folder / "secret_link.py").symlink_to("/etc/hostname")
    os.mkfifo(folder / "pipe")
    source = "import os\ndef listing():\n    return sorted(os.listdir('pkg'))\n"
    with PythonSubmission(source, files={"pkg": folder}, limits=LIMITS, isolation=level) as sub:
        assert sub.call("listing").value == ["ok.py"]
        assert any("secret_link.py" in entry for entry in sub.skipped_files)
        assert any("pipe" in entry and "FIFO" in entry for entry in sub.skipped_files)
    with pytest.raises(ValueError, match="symbolic link"):
        PythonSubmission(source, files={"x.py": folder / "secret_link.py"}, limits=LIMITS,
                         isolation=level).start()


@pytest.mark.parametrize("bad", ["/etc/passwd", "../up.py", "a//b.py", "./a.py", ""])
def test_bad_relative_paths_are_refused(bad):
    with pytest.raises(ValueError, match="relative path"):
        PythonSubmission("x = 1\n", files={bad: b""})
    with pytest.raises(ValueError, match="relative path"):
        PythonSubmission("x = 1\n", filename=bad or "")


def test_files_over_the_disk_limit_are_refused(level):
    limits = LIMITS.replace(disk=1 * MiB)
    with pytest.raises(ValueError, match="Limits.disk"):
        with PythonSubmission("x = 1\n", files={"big.bin": b"x" * (2 * MiB)}, limits=limits,
                              isolation=level) as sub:
            sub.start()


def test_printing_is_capped_and_never_fails(level):
    source = (
        "import os, sys\n"
        "def chatty(n):\n"
        "    for i in range(n):\n"
        "        print('line', i, 'x' * 200)\n"
        "    os.write(1, b'raw write\\n')\n"
        "    sys.stderr.write('E' * 100000)\n"
        "    return n\n"
        "def quiet(x):\n"
        "    print('after')\n"
        "    return x + 1\n"
    )
    limits = LIMITS.replace(file_size=1 * MiB)
    with PythonSubmission(source, limits=limits, isolation=level) as sub:
        loud = sub.call("chatty", 20000)  # about 4 MB, more than the file size limit
        assert loud.ok, loud
        assert loud.value == 20000
        assert len(loud.stdout) < limits.output + 200 and "bytes of output omitted" in loud.stdout
        assert loud.stdout.endswith("raw write\n")
        assert len(loud.stderr) < limits.output + 200
        after = sub.call("quiet", 1)
    assert after.ok and after.value == 2 and after.stdout == "after\n"
    assert sub.starts == 1
