"""The C fast path of the validator; everything else is configured in pyproject.toml.

The extension is optional: without a C compiler gtmerge installs and runs the same, and its
validator checks valid lines more slowly (gtmerge.validate.lines).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gtmerge.validate._fastlines",
            ["gtmerge/validate/_fastlines.c"],
            optional=True,
        )
    ]
)
