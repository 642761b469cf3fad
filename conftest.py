"""Collection rules for the whole checkout (tests/ and the doctests of skhier/)."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("matplotlib") is None:
    # the plot extra's doctests draw with matplotlib: without `pip install 'skhier[plot]'`
    # they are not collected (tests/docs/test_examples.py skips the gallery, naming the extra)
    collect_ignore.extend(["skhier/metrics/_plot.py", "skhier/plot.py"])
