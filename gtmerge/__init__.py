"""gtmerge: SageMaker Ground Truth outputs and label exports → one Rekognition manifest."""

from __future__ import annotations

__version__ = "0.1.0"
