"""Files copied verbatim into every suite's `evaluation/` folder. They are fixed code: what a suite
learned from its traces lives in the JSON files under `evaluation/data/`, never in Python.
`probe.py` is the exception: run from here against a suite (see `suite.runner`), never copied into one."""
