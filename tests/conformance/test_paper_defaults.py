"""Words match code: a docstring's ``default=`` equals the signature's default for every public
class, a default listed as the paper's in ``skhier/_papers.py`` is the signature's, and no
parameter description calls a default "the paper's" unless it is listed there."""

import ast
import inspect
import re

import pytest
from numpydoc.docscrape import ClassDoc

import skhier
import skhier.inference
import skhier.local
import skhier.neural
import skhier.neural.modules
from skhier._papers import PAPER_DEFAULTS

CLASSES = {}
for _mod in (skhier, skhier.neural, skhier.neural.modules, skhier.inference, skhier.local):
    for _name in _mod.__all__:
        _obj = getattr(_mod, _name)
        if inspect.isclass(_obj) and _obj.__module__.startswith("skhier"):
            CLASSES.setdefault(_name, _obj)

#: phrases that claim a default for the paper
CLAIM = re.compile(r"the paper's default|paper's value|\(the paper's\)|default(?:, |: | is )the paper's", re.I)


def _same(text, value):
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        name = text.split("(")[0].split(".")[-1]
        return name in (getattr(value, "__name__", None), type(value).__name__)
    return literal == value and (type(literal) is type(value) or isinstance(value, float))


def _defaults(cls):
    """Signature defaults, plus the ``kwargs.setdefault`` ones an instance holds (skorch prefixes)."""
    params = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
              if p.default is not inspect.Parameter.empty}
    try:
        params.update({k: v for k, v in cls().get_params(deep=False).items() if "__" in k})
    except TypeError:  # a module that needs arguments
        pass
    return params


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_docstring_defaults_match_the_signature(name):
    cls = CLASSES[name]
    sig = inspect.signature(cls.__init__).parameters
    for p in ClassDoc(cls)["Parameters"]:
        m = re.search(r"default\s*=\s*(.+)$", p.type)
        if m and p.name in sig and sig[p.name].default is not inspect.Parameter.empty:
            assert _same(m.group(1).strip(), sig[p.name].default), (name, p.name, m.group(1), sig[p.name].default)


@pytest.mark.parametrize("name", sorted(PAPER_DEFAULTS))
def test_the_paper_defaults_are_the_signatures(name):
    cls = CLASSES[name]
    defaults = _defaults(cls)
    for param, (value, _source) in PAPER_DEFAULTS[name].items():
        assert param in defaults and defaults[param] == value, (name, param, defaults.get(param), value)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_docstring_calls_a_default_the_papers_unless_listed(name):
    listed = PAPER_DEFAULTS.get(name, {})
    for p in ClassDoc(CLASSES[name])["Parameters"]:
        if CLAIM.search(" ".join(p.desc)) and p.name != "**kwargs":
            assert p.name in listed, f"{name}.{p.name}: its description calls the default the paper's; " \
                                     "list it in skhier/_papers.py or say it is ours"


def test_the_claim_pattern_catches_what_it_must():
    assert CLAIM.search("τ of the logits; 0.07 is the paper's default")
    assert CLAIM.search("dropout (the paper's)")
    assert not CLAIM.search("0.07, CLIP's initial value, is our choice")


def test_chmcnn_docstring_states_its_defaults_as_the_signature_holds_them():
    from skhier.neural import CHMCNNClassifier

    doc = " ".join(CHMCNNClassifier.__doc__.split())  # the words, whatever the line breaks
    clf = CHMCNNClassifier()
    assert clf.max_epochs == 200 and "``max_epochs=200``" in doc
    assert clf.train_split.cv == 0.1 and "10 % of the samples held out" in doc
    assert clf.patience == 10 and "``patience=10``" in doc
    assert clf.batch_size == 64 and "batch 64" in doc and "batch 4" in doc  # ours, and the paper's
    assert clf.lr == 1e-3 and "rate 1e-3" in doc and "learning rate 1e-4" in doc
    assert clf.get_params()["optimizer__weight_decay"] == 1e-5 and "weight decay 1e-5" in doc
    assert "early_stopping" in dict(clf.get_default_callbacks())
    assert "early_stopping" not in dict(clf.set_params(train_split=None).get_default_callbacks())
    assert "early_stopping" not in dict(clf.set_params(train_split=0.1, patience=None).get_default_callbacks())
    assert clf.refit is True and "``refit=True``" in doc and "refit : bool, default=True" in doc
    assert clf.averaging == 0.999 and "``averaging=0.999``" in doc and "averaging : float or None, default=0.999" in doc
    averaging = dict(clf.get_default_callbacks())["weight_averaging"]
    assert (averaging.decay, averaging.warmup) == (0.999, 10) and "``warmup=10``" in doc
    from skhier.neural.modules import CHMCNNModule

    assert inspect.signature(CHMCNNModule).parameters["hidden"].default == "auto"
    assert '``module__hidden="auto"``: 500 below 300 input features, 1,000 from 300 up' in doc
