"""Validate Rekognition Custom Labels manifests offline, with Rekognition's error codes.

``ManifestValidator`` checks a stream of lines (the merge validates what it writes with it);
``validate`` reads manifests from disk or S3 and can also check their images.
"""

from gtmerge.validate.findings import Finding, ValidationResult
from gtmerge.validate.manifest import ManifestValidator
from gtmerge.validate.run import validate

__all__ = ["Finding", "ManifestValidator", "ValidationResult", "validate"]
