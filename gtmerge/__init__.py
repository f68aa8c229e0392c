"""gtmerge: SageMaker Ground Truth outputs and label exports → one Rekognition manifest.

The Python API (the ``gtmerge`` command is a thin layer over it)::

    import gtmerge
    report = gtmerge.merge(["jobs/*/output.manifest"], "dataset.manifest")
    result = gtmerge.validate(["dataset.manifest"])
    split = gtmerge.split("dataset.manifest", "train.manifest", "test.manifest", fraction=0.2)
    stats = gtmerge.stats("train.manifest", test="test.manifest", html="dataset.html")
"""

from __future__ import annotations

__version__ = "0.1.0"

from gtmerge.api import BadRecord, InvalidOutput, MergeError, merge
from gtmerge.split import split
from gtmerge.stats import stats
from gtmerge.validate import validate

__all__ = [
    "BadRecord",
    "InvalidOutput",
    "MergeError",
    "__version__",
    "merge",
    "split",
    "stats",
    "validate",
]
