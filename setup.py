"""The C fast paths of the validator, the Ground Truth reader and the merge; everything else is
configured in pyproject.toml.

The extensions are optional: without a C compiler gtmerge installs and runs the same, to the
same bytes, more slowly (gtmerge.validate.lines and gtmerge.readers.groundtruth are the
reference code each fast path is checked against).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gtmerge.validate._fastlines",
            ["gtmerge/validate/_fastlines.c"],
            depends=["gtmerge/_fastcommon.h"],
            optional=True,
        ),
        Extension(
            "gtmerge.readers._fastgt",
            ["gtmerge/readers/_fastgt.c"],
            depends=["gtmerge/_fastcommon.h"],
            optional=True,
        ),
        Extension(
            "gtmerge._fastmerge",
            ["gtmerge/_fastmerge.c"],
            depends=["gtmerge/_fastcommon.h"],
            optional=True,
        ),
    ]
)
