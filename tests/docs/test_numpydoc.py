"""numpydoc validation of every public object: each parameter of every public class,
function and public method is documented, with a description, and nothing documented is
missing from the signature (numpydoc's PR01, PR02, PR07). numpydoc comes with the
``test`` extra."""

import importlib
import inspect

import pytest

from tests.docs.test_api_docs import PUBLIC_MODULES

validate = pytest.importorskip("numpydoc.validate", reason="numpydoc is not installed: pip install 'skhier[test]'")

CODES = {"PR01", "PR02", "PR07", "RT03"}
#: objects whose constructor is not ours, each with its reason
EXEMPT = {
    "skhier.base.NodeScores": "an ndarray subclass: its constructor is numpy's; users call NodeScores.wrap",
    "skhier.neural._protocols.EndDistributionModule": "a typing.Protocol: its constructor is typing's",
    "skhier.neural._protocols.NodeProbabilityModule": "a typing.Protocol: its constructor is typing's",
    "skhier.neural._protocols.EncoderModule": "a typing.Protocol: its constructor is typing's",
}


def _public_objects():
    seen, out = set(), []
    for mod in PUBLIC_MODULES:
        module = importlib.import_module(mod)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not obj.__module__.startswith("skhier"):
                continue
            home = f"{obj.__module__}.{obj.__qualname__}"
            targets = [(f"{mod}.{name}", home)]
            if inspect.isclass(obj):
                targets += [(f"{mod}.{name}.{k}", f"{home}.{k}") for k, v in vars(obj).items()
                            if not k.startswith("_") and inspect.isfunction(v)]
            for path, key in targets:
                if key not in seen:
                    seen.add(key)
                    out.append((path, key))
    return out


OBJECTS = _public_objects()


@pytest.mark.parametrize("path, home", OBJECTS, ids=[p for p, _ in OBJECTS])
def test_parameters_are_documented(path, home):
    if home in EXEMPT:
        pytest.skip(EXEMPT[home])
    errors = [f"{code}: {msg}" for code, msg in validate.validate(path)["errors"] if code in CODES]
    assert not errors, f"{path}: " + "; ".join(errors)
