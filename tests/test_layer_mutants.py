"""Dropout and normalisation mistakes: each planted mutant named by the diagnosis in words.

The catalogue's own layered backward pass (the computation-graph derivation of batch norm, step
by step) is a rendition independent of the reference's closed form; both are held to autograd.
Each mistake of the issue (the mask or the 1/p of dropout forgotten; batch norm without the terms
through the mean or the variance, with the unbiased variance or ε outside the root; layer norm
over the wrong axis) must be named by its own finding kind, never only as a mismatch.
"""

import numpy as np
import pytest
from gradref.checks.api import check_network
from gradref.checks.diagnosis import LAYER_CANDIDATES, diagnose
from gradref.checks.mutants import MUTANTS, Backprop, example_case
from gradref.checks.oracle import oracle_gradients
from gradref.checks.strategies import network_cases
from gradref.checks.tolerances import NETWORK_ATOL, NETWORK_RTOL
from hypothesis import given, settings

LAYERED = sorted(mid for mid, mu in MUTANTS.items() if mu.layered)
ARCHS = ("batchnorm_dropout", "layernorm_dropout")
OPTIONS = dict(normalization=(None, "batchnorm", "layernorm"), dropout=(None, 0.5, 0.8))

#: The sentence each mistake must be named with (besides its finding kind).
WORDS = {
    "dropout_no_mask": "forgot the mask",
    "dropout_no_scale": "forgot the 1/p scaling",
    "bn_no_mean_terms": "dz{l} is missing the terms through the batch mean",
    "bn_no_var_terms": "dz{l} is missing the terms through the batch variance",
    "bn_unbiased_variance": "biased variance (divided by m",
    "bn_unbiased_variance_grad": "biased variance (divided by m",
    "bn_eps_outside_root": "ε goes inside the square root",
    "ln_wrong_axis": "normalises each example over its features",
}


def _context(net, params, X, Y):
    return {"m": X.shape[1], "net": net, "params": params, "cache": None, "X": X, "Y": Y}


def test_every_mistake_of_the_issue_is_in_the_catalogue_with_a_candidate():
    assert set(LAYERED) == set(WORDS)
    assert {c.id for c in LAYER_CANDIDATES} == set(WORDS)
    for mid in LAYERED:
        assert MUTANTS[mid].kinds in (("dropout",), ("normalization",))


PAIRS = [(mid, arch) for mid in LAYERED for arch in ARCHS
         if MUTANTS[mid].applies(example_case(arch)[0])]


def test_every_layer_mutant_has_an_architecture():
    assert {mid for mid, _ in PAIRS} == set(LAYERED)


@pytest.mark.parametrize("mutant_id,arch", PAIRS)
def test_layer_mistake_is_named_first_in_words(mutant_id, arch):
    mutant = MUTANTS[mutant_id]
    net, params, X, Y = example_case(arch, seed=5)
    expected = oracle_gradients(net, params, X, Y)
    findings = diagnose(mutant(net, params, X, Y), expected, _context(net, params, X, Y))
    assert findings, "the mistake must be found"
    assert all(f.kind not in ("mismatch", "lower_layers") for f in findings), findings
    # all-zero arrays are told first by design (ln_wrong_axis zeroes db: its batch means
    # cancel every row sum); the mistake itself is the first finding after them
    first = [f for f in findings if f.kind != "zero"][0]
    assert first.kind in mutant.kinds and first.kind != "mismatch", first.message
    words = WORDS[mutant_id].format(l=mutant.targets(net)[0])
    assert words in first.message.lower(), first.message
    assert first.details["candidate"] == mutant_id
    assert first.details["layers"] == mutant.targets(net)


@pytest.mark.parametrize("mutant_id", LAYERED)
def test_check_network_names_the_layer_mistake(mutant_id):
    mutant = MUTANTS[mutant_id]
    arch = next(a for a in ARCHS if mutant.applies(example_case(a)[0]))
    net, params, X, Y = example_case(arch, seed=8)
    result = check_network(mutant.bind(net), net, params, X, Y)
    assert not result.passed
    named = [f for f in result.diagnosis if f.kind != "zero"]
    assert named and named[0].kind in mutant.kinds
    words = WORDS[mutant_id].format(l=mutant.targets(net)[0])
    assert words in named[0].message.lower()


@given(network_cases(max_depth=3, max_width=5, min_batch=2, max_batch=8, **OPTIONS))
@settings(max_examples=15)
def test_catalogue_layered_pass_matches_autograd_and_is_never_flagged(case):
    """The step-by-step pass is right, and correct gradients get no finding."""
    net, params, X, Y = case
    grads = Backprop(net, params, X, Y)()
    expected = oracle_gradients(net, params, X, Y)
    for key, e in expected.items():
        err = float(np.max(np.abs(grads[key] - e)))
        assert err <= NETWORK_RTOL * float(np.max(np.abs(e))) + NETWORK_ATOL, key
    _, reference = net.gradients(params, X, Y)
    assert diagnose(reference, expected, _context(net, params, X, Y)) == []


def test_eps_outside_the_root_is_small_but_named():
    """ε = 1e-5 against variances of order 1 changes dZ by ~1e-5 relative: enough."""
    mutant = MUTANTS["bn_eps_outside_root"]
    net, params, X, Y = example_case("batchnorm_dropout", seed=2)
    expected = oracle_gradients(net, params, X, Y)
    grads = mutant(net, params, X, Y)
    rel = np.max(np.abs(grads["dZ1"] - expected["dZ1"])) / np.max(np.abs(expected["dZ1"]))
    assert 1e-8 < rel < 1e-3
    assert diagnose(grads, expected, _context(net, params, X, Y))[0].kind == "normalization"
