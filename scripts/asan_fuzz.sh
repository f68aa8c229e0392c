#!/bin/sh
# Build gtmerge's C fast paths with AddressSanitizer and run the fuzz and differential suites
# under it: a memory error in _fastgt.c, _fastlines.c or _fastmerge.c stops the run with ASan's
# report.
#
#   scripts/asan_fuzz.sh [WORKDIR [PYTEST ARGS...]]   (WORKDIR default: a new temporary one)
#
# The working tree is copied to WORKDIR (so the instrumented builds never land in it), given a
# venv of its own, and built with -fsanitize=address; Python itself is not instrumented, so the
# ASan runtime is preloaded. Leak detection is off: the interpreter keeps memory to its exit.
# The tests that bound peak RSS or time are left out: under ASan they measure its shadow
# memory and its slowdown (pytest marker bounds_rss).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
[ $# -gt 0 ] && shift
mkdir -p "$work"
tar -C "$here" --exclude=.venv --exclude='*.so' --exclude=build --exclude='*.egg-info' -cf - . |
    tar -C "$work" -xf -
cd "$work"
python3 -m venv .venv
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
    .venv/bin/pip install -q -e ".[test]"
test -n "$(ls gtmerge/readers/_fastgt*.so gtmerge/validate/_fastlines*.so gtmerge/_fastmerge*.so)"
LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
    .venv/bin/python -m pytest -q -p no:cacheprovider \
    -m "not bounds_rss" tests/test_fastgt.py tests/test_fastmerge.py tests/test_validate_lines.py \
    tests/test_fuzz.py tests/test_spool.py tests/test_consolidation.py tests/test_runcheck.py \
    tests/test_validate.py \
    "$@" 2>&1 | tail -n 20
echo "ASan run in $work"
