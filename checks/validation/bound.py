"""Targets built from an object-oriented model: ``--model`` and ``--call`` (no adapter code).

``--model 'FILE.py:EXPRESSION'`` says how to build the model for a case's architecture: an
expression in the file's namespace with placeholders (``Network({sizes})``,
``MLP({n_in}, {widths}, {n_out}, activation={activation})``, see
:func:`.binding.placeholders`) or the name of a factory function called with ``arch``
(``{"layer_sizes", "activations", "loss", "l2", "lr"}``). ``--call`` says what to run: statements
whose last expression is the answer (``model.backprop(X, Y)``), statements that leave the
gradients on the model (``model.forward(X); model.backward(Y)``), a training step whose change
reveals the gradient (``model.step(X, Y, lr)`` with ``--returns update --lr R``), or
:data:`~.layerchain.CHAIN`: gradref chains the layers' ``forward``/``backward`` itself, through
``--loss-object`` or the reference's own loss (:meth:`gradref.reference.losses.Loss.derivative`,
as ∂J/∂A of the mean cost, or of the summed one with ``chain_loss="sum"`` or ``--reduction
sum``). The model runs in the sandbox (:mod:`gradref.checks.isolation`) unless it is given as a
callable (in-process, :func:`gradref.checks.testing.assert_gradients_match`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import binding, layerchain
from .targets import Answer, Target

__all__ = ["CHAIN_LOSSES", "bound_target", "parse_model_spec"]

#: What the built-in loss hands the last layer in a chain: ∂J/∂A of the mean or summed cost.
CHAIN_LOSSES = ("mean", "sum")

_ENTRY_TAIL = """
import importlib as _importlib

_impl = _importlib.import_module({module!r})
_STATE = {{}}


def _gradref_functions():
    return ["_gradref_start", "_gradref_finish"]


def _gradref_start(*args):
    _STATE.clear()
    return start(vars(_impl), *args, state=_STATE)


def _gradref_finish(dA):
    return finish(_STATE, dA)
"""


def _embedded(module) -> str:
    lines = Path(module.__file__).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("from __future__"))


def parse_model_spec(spec: str) -> tuple[Path, str]:
    """``"FILE.py:EXPRESSION"`` -> (path, expression); ``ValueError`` naming ``--model``."""
    path, sep, expression = str(spec).partition(".py:")
    if not sep or not path or not expression.strip():
        raise ValueError(f"--model must be FILE.py:EXPRESSION (e.g. 'net.py:Network({{sizes}})' "
                         f"or 'net.py:make_model'), got {spec!r}")
    file = Path(path + ".py")
    if not file.is_file():
        raise ValueError(f"--model: file {str(file)!r} does not exist (in {spec!r})")
    if not file.stem.isidentifier():
        raise ValueError(f"--model: {file.name!r} must be importable (its name a Python "
                         f"identifier) (in {spec!r})")
    return file, expression.strip()


class _Bound(Target):
    def __init__(self, model, call, lr, update, loss_object, chain_loss, columns, runner,
                 description):
        self.model, self.call_source, self.lr, self.update = model, call, lr, update
        self.loss_object, self.chain_loss, self.columns = loss_object, chain_loss, columns
        self.runner, self.description = runner, description

    def invoke(self, args, arch, positional):
        params, X, Y = args
        arch = {**arch, "lr": self.lr}
        start = time.perf_counter()
        result = self.runner("start", self.model, self.call_source, params, X, Y, arch,
                             self.update, self.loss_object)
        if result.get("error") is None and "output" in result["value"]:
            from gradref.reference import get_loss

            A = np.asarray(result["value"]["output"], dtype=np.float64)
            m = X.shape[1] if self.columns else X.shape[0]
            if A.shape != np.shape(Y):
                return Answer(error=f"the chain's output has shape {A.shape}, the targets Y "
                                    f"{np.shape(Y)}", seconds=time.perf_counter() - start)
            with np.errstate(all="ignore"):
                dA = get_loss(arch["loss"]).derivative(A, np.asarray(Y))
            dA = dA / m if self.chain_loss == "mean" else dA
            result = self.runner("finish", dA)
        seconds = time.perf_counter() - start
        if result.get("error") is not None:
            return Answer(error=f"{self.description}: {result['error']}", seconds=seconds,
                          output=result.get("output", ""))
        return Answer(value=result["value"]["answer"], reading=result["value"]["how"],
                      seconds=seconds, output=result.get("output", ""))


def _in_process(namespace):
    def runner(step, *args):
        try:
            if step == "start":
                value = layerchain.start(namespace, *args, state=state)
            else:
                value = layerchain.finish(state, *args)
        except Exception as exc:  # noqa: BLE001 - the implementation's fault, reported
            return {"error": f"{type(exc).__name__}: {exc}"}
        return {"value": value}

    state: dict = {}
    return runner


def _sandboxed(submission):
    def runner(step, *args):
        result = submission.call(f"_gradref_{step}", *args)
        if result.ok:
            return {"value": result.value, "output": result.stdout}
        tail = (result.traceback or result.stderr or "").strip().splitlines()[-4:]
        text = "".join("\n    " + line for line in tail)
        return {"error": f"{result.kind}: {result.message}{text}", "output": result.stdout}

    return runner


def bound_target(model, call, *, lr=None, update=False, loss_object=None, chain_loss="mean",
                 layout="columns", limits=None, same_user=False, paths=()) -> Target:
    """A target built from a model (see the module docstring): ``model`` is
    ``"FILE.py:EXPRESSION"`` (run in the sandbox) or a callable ``factory(arch) -> model``
    (in-process). Raises ``ValueError`` naming the argument for a bad one."""
    if not isinstance(call, str) or not call.strip():
        raise ValueError(f"call must be statements such as 'model.backprop(X, Y)' or "
                         f"{layerchain.CHAIN!r}, got {call!r}")
    if chain_loss not in CHAIN_LOSSES:
        raise ValueError(f"chain_loss must be one of {', '.join(CHAIN_LOSSES)}, "
                         f"got {chain_loss!r}")
    if loss_object is not None and call.strip() != layerchain.CHAIN:
        raise ValueError(f"loss_object {loss_object!r} is only used with call "
                         f"{layerchain.CHAIN!r}, got call {call!r}")
    import ast

    for what, source, mode in (("call", call, "exec"), ("loss_object", loss_object, "eval")):
        if source is not None and source.strip() != layerchain.CHAIN:
            try:
                ast.parse(source, mode=mode)
            except SyntaxError as exc:
                raise ValueError(f"{what} {source!r} is not valid Python: {exc.msg}") from None
    columns = layout == "columns"
    call = call.strip()
    if callable(model) and not isinstance(model, str):
        name = getattr(model, "__qualname__", repr(model))
        return _Bound("_gradref_factory", call, lr, update, loss_object, chain_loss, columns,
                      _in_process({"_gradref_factory": model}), f"{name}() with {call!r}")
    path, expression = parse_model_spec(model)
    from ..isolation import Limits, PythonSubmission

    roots = [path.resolve().parent] + [Path(p).resolve() for p in paths]
    source = "\n".join([_embedded(binding), _embedded(layerchain),
                        _ENTRY_TAIL.format(module=path.stem)])
    submission = PythonSubmission(source, filename="gradref_bound.py",
                                  import_roots=list(dict.fromkeys(roots)),
                                  limits=limits or Limits(),
                                  drop_privileges=False if same_user else None)
    target = _Bound(expression, call, lr, update, loss_object, chain_loss, columns,
                    _sandboxed(submission), f"{path}:{expression} with {call!r}")
    target.argv = ["--model", f"{path}:{expression}", "--call", call]
    if loss_object is not None:
        target.argv += ["--loss-object", loss_object]
    if chain_loss != "mean":
        target.argv += ["--chain-loss", chain_loss]
    target.ready = lambda: _ready(submission, path)
    target.close = submission.close
    return target


def _ready(submission, path):
    failure = submission.start()
    if failure is not None:
        tail = "".join("\n    " + line for line in
                       (failure.stderr or failure.traceback or "").strip().splitlines()[-6:])
        return f"could not load {path}: {failure.message}{tail}"
    return None


def add_arguments(p) -> None:
    """``--model``, ``--call``, ``--loss-object``, ``--chain-loss`` of ``gradref validate``."""
    p.add_argument("--model", metavar="'FILE.py:EXPRESSION'",
                   help="build the model for each case: an expression with placeholders "
                        "{sizes}, {activations}, {hidden}, {output}, {activation}, {widths}, "
                        "{n_in}, {n_out}, {loss}, {lr}, {l2}, or a factory function called "
                        "with arch; gradref binds its parameter arrays (use with --call)")
    p.add_argument("--call", metavar="'model.backprop(X, Y)'",
                   help="what to run on the bound model (model, X, Y, lr defined): a method "
                        "returning gradients, statements leaving them on the model "
                        "('model.forward(X); model.backward(Y)'), an update (with --returns "
                        "update), or 'chain' (gradref chains the layers' forward/backward)")
    p.add_argument("--loss-object", metavar="'EXPRESSION'",
                   help="with --call chain: a loss object (forward(A, Y), backward() -> dA) "
                        "from the model's file; default: the reference's loss")
    p.add_argument("--chain-loss", choices=CHAIN_LOSSES, default="mean",
                   help="with --call chain and the reference's loss: hand the last layer "
                        "dJ/dA of the mean cost (default) or of the summed cost, for layers "
                        "that divide by m themselves")


def target_from(args, settings, limits, error):
    """The bound target of the parsed options, or None without ``--model``."""
    if args.model is None:
        if args.call is not None or args.loss_object is not None:
            error("argument --call: only with --model FILE.py:EXPRESSION")
        return None
    if args.call is None:
        error("argument --model: needs --call (e.g. --call 'model.backprop(X, Y)' or "
              "--call chain)")
    chain_loss = "sum" if settings.reduction == "sum" else args.chain_loss
    try:
        return bound_target(args.model, args.call, lr=settings.lr,
                            update=settings.returns == "update", loss_object=args.loss_object,
                            chain_loss=chain_loss, layout=settings.layout, limits=limits,
                            same_user=args.same_user, paths=args.path)
    except ValueError as exc:
        text = str(exc)
        error(text if text.startswith("argument") or text.startswith("--model")
              else f"argument --call: {text}")
    return None
