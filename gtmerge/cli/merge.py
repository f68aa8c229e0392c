"""``gtmerge merge``: the command-line face of :func:`gtmerge.api.merge`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gtmerge.api import DEFAULT_MEMORY_MB, InvalidOutput, MergeError, merge
from gtmerge.cli.consolidation import add_consolidation_options
from gtmerge.cli.options import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    add_progress_option,
    add_s3_options,
    positive_int,
    report_failure,
)
from gtmerge.cli.split import add_split_arguments
from gtmerge.consolidate.config import DEFAULT_REJECT_VERDICTS
from gtmerge.planning import MAX_WORKERS_PER_CORE
from gtmerge.writer import DEFAULT_BOX_ATTRIBUTE, DEFAULT_LABEL_ATTRIBUTE

EXAMPLES = """\
inputs:
  A path, a glob ('jobs/*/output.manifest', quoted), '-' for stdin, an s3:// object, or an
  S3 glob ('s3://bucket/jobs/*/manifests/output/output.manifest'). Compressed inputs
  (gzip, bzip2, xz, zstd) are recognised by their first bytes. Write MAPPING=INPUT to read one
  input with its own mapping (a built-in name from 'gtmerge mappings' or a YAML file);
  --mapping sets it for the others; without either, each input's format is detected.

examples:
  gtmerge merge species/output.manifest scene/output.manifest -o dataset.manifest
  gtmerge merge 's3://labels/jobs/*/manifests/output/output.manifest' \\
      -o s3://labels/datasets/train.manifest.gz --report report.json --rejects rejects.jsonl
  gtmerge merge jobs/*.manifest csv=legacy/labels.csv --image-root s3://labels/images/ \\
      -o out.manifest
  gtmerge merge --mapping coco instances.json --image-root s3://labels/coco/ -o coco.manifest
  gtmerge merge species-v1/output.manifest species-v2/output.manifest -o dataset.manifest \
      --question species=species-v1,species-v2 --policy vote --tie latest --conflicts c.jsonl
  gtmerge merge boxes/output.manifest verify/output.manifest -o dataset.manifest \
      --reject-verdict Reject --relabel relabel.manifest --rename classes.csv

exit status: 0 merged (rejected records, if any, are in the report and the rejects file);
  1 --fail-on-invalid and the result breaks Rekognition's rules; 2 the run could not complete
  (missing input, unreachable bucket, --strict met a bad record). On any failure the output,
  report and rejects destinations are left exactly as they were.
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "merge",
        help="merge Ground Truth outputs and exports into one Rekognition manifest",
        description=(
            "Merge every record of the same image, across jobs and files, into one JSON line\n"
            "with every label as a numbered attribute (label0, label1, ...), ready for\n"
            "Rekognition Custom Labels."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="[MAPPING=]INPUT",
        help="input manifests or exports (see 'inputs' below)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output manifest: a path, '-' for stdout, or s3://; .gz/.bz2/.zst compress",
    )
    parser.add_argument(
        "--attribute",
        default=DEFAULT_LABEL_ATTRIBUTE,
        metavar="NAME",
        help="base name of the label attributes (default: %(default)s → label0, label1, ...)",
    )
    parser.add_argument(
        "--box-attribute",
        default=DEFAULT_BOX_ATTRIBUTE,
        metavar="NAME",
        help="base name of the bounding-box attributes (default: %(default)s)",
    )
    parser.add_argument(
        "--mapping",
        metavar="NAME|PATH",
        help="read inputs with this mapping (built-in name or YAML file) unless they name one",
    )
    parser.add_argument(
        "--image-root",
        metavar="URI",
        help="s3:// prefix that relative image names in exports are joined to",
    )
    parser.add_argument("--report", metavar="FILE", help="write the JSON report here")
    parser.add_argument(
        "--rejects", metavar="FILE", help="write one JSON line per rejected record here"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad record (FILE:LINE: reason, exit 2) instead of rejecting it",
    )
    parser.add_argument(
        "--fail-on-invalid",
        action="store_true",
        help="fail (exit 1, nothing written) if the merged manifest breaks Rekognition's rules",
    )
    add_consolidation_options(parser)
    add_s3_options(parser)
    scale = parser.add_argument_group("scale")
    scale.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help=(
            "processes that read and merge in parallel (default: the number of cores; "
            f"at most {MAX_WORKERS_PER_CORE} per core)"
        ),
    )
    scale.add_argument(
        "--memory",
        type=positive_int,
        default=DEFAULT_MEMORY_MB,
        metavar="MB",
        help="working-memory budget; larger inputs are spooled to disk (default: %(default)s)",
    )
    scale.add_argument(
        "--tmp-dir",
        metavar="DIR",
        help="where spool files go (default: the system temp dir); always removed",
    )
    add_progress_option(parser)
    add_split_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        report = merge(
            args.inputs,
            args.output,
            mapping=args.mapping,
            image_root=args.image_root,
            attribute=args.attribute,
            box_attribute=args.box_attribute,
            report=args.report,
            rejects=args.rejects,
            strict=args.strict,
            fail_on_invalid=args.fail_on_invalid,
            policy=args.policy,
            quorum=args.quorum,
            tie=args.tie,
            iou=args.iou,
            verdicts=args.verdicts,
            reject_verdicts=args.reject_verdict or DEFAULT_REJECT_VERDICTS,
            verifies=args.verifies,
            on_reject=args.on_reject,
            questions=args.question,
            rename=args.rename,
            drop_classes=args.drop_class,
            keep_classes=args.keep_class,
            min_confidence=args.min_confidence,
            human_only=args.human_only,
            conflicts=args.conflicts,
            relabel=args.relabel,
            endpoint_url=args.endpoint_url,
            sse=args.sse,
            sse_kms_key_id=args.sse_kms_key_id,
            expected_bucket_owner=args.expected_bucket_owner,
            progress=args.progress,
            workers=args.workers,
            memory_mb=args.memory,
            tmp_dir=args.tmp_dir,
            split=args.split,
            test_output=args.test_output,
            split_method=args.method,
            seed=args.seed,
            split_keep=args.keep,
            split_keep_training=args.keep_training,
            split_group=args.group,
            split_group_path=args.group_path,
            html=args.html,
        )
    except MergeError as exc:
        report_failure("merge", exc)
        return EXIT_INVALID if isinstance(exc, InvalidOutput) else EXIT_FAILED
    print(report.summary(), file=sys.stderr)
    return EXIT_OK
