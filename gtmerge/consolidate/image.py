"""One image's answers → the labels and box sets written for it, as a labeling team would.

In order: classes are renamed and filtered; box sets an adjustment replaced are dropped;
rejecting verdicts take out the answer they verified (or the whole image); then the answers
to each question are compared, and the policy decides what is kept. Every step counts what
it drops, and every question whose answers differ becomes a line of the conflicts file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from gtmerge.consolidate import boxes, policies
from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.filters import filter_box_sets, filter_labels
from gtmerge.consolidate.stats import ConsolidationStats, QuestionStats
from gtmerge.model import AnswerKey, BoxSet, ImageRecord, Label, Verdict
from gtmerge.rekognition import date_order

T = TypeVar("T")


class Outcome(NamedTuple):
    """What is written for one image (None: left out), its conflicts, and whether it goes
    back for labeling."""

    key: str
    image: ImageRecord | None
    conflicts: list[dict[str, Any]]
    relabel: bool


class Answers(NamedTuple):
    """Everything the inputs said about one image, each answer once, in input order."""

    key: str
    labels: list[Label]
    box_sets: list[BoxSet]
    superseded: set[object]
    blank: list[AnswerKey]
    verdicts: list[Verdict]
    #: answer → its position among the image's answers (input order)
    order: Mapping[AnswerKey, int]


def consolidate(answers: Answers, config: Consolidation, stats: ConsolidationStats) -> Outcome:
    labels, drawn, blank = answers.labels, answers.box_sets, answers.blank
    if config.questions or config.verifies:
        # every attribute the inputs have, whatever is dropped below: the warnings about
        # options that name nothing look for them (and only these options need them)
        stats.attributes.update(label.attribute for label in labels)
        stats.attributes.update(box_set.attribute for box_set in drawn)
        stats.attributes.update(answer[0] for answer in blank)
    # superseded sets are known by their boxes as drawn: dropped before classes are renamed
    box_sets = [b for b in drawn if b.geometry not in answers.superseded]
    if config.classes.active:
        labels = filter_labels(labels, config.classes, stats)
        box_sets = filter_box_sets(box_sets, config.classes, stats)
    relabel = False
    if answers.verdicts:
        stats.verification_attributes.update(v.attribute for v in answers.verdicts)
        rejected = _rejected(answers.verdicts, config) if config.applies_verdicts else {}
        rejected = {
            target: when
            for target, when in rejected.items()
            if not _adjusted_after(target, when, drawn, answers.superseded)
        }
        if rejected:
            relabel = True
            stats.rejected_images += 1
            if config.on_reject != "image":
                labels, box_sets, blank = _without_rejected(
                    labels, box_sets, blank, rejected, stats
                )
    conflicts: list[dict[str, Any]] = []
    image = ImageRecord(
        answers.key,
        _labels(answers.key, labels, blank, answers.order, config, stats, conflicts),
        _box_sets(answers.key, box_sets, answers.order, config, stats, conflicts),
    )
    if relabel and config.on_reject == "image":
        # its disagreements are still written down: the next labeling round may want them
        stats.images_dropped += 1
        stats.labels_dropped["verdict: image rejected"] += len(image.labels)
        stats.boxes_dropped["verdict: image rejected"] += _box_count(image.box_sets)
        for conflict in conflicts:
            conflict["decision"]["image"] = "left out: a verdict rejected it"
        return Outcome(answers.key, None, conflicts, True)
    return Outcome(answers.key, image, conflicts, relabel)


def _rejected(verdicts: Sequence[Verdict], config: Consolidation) -> dict[AnswerKey, str]:
    """Rejected answer → when it was rejected. The latest verdict on an answer decides (a
    second review overrules the first)."""
    last: dict[AnswerKey, Verdict] = {}
    for verdict in verdicts:
        if verdict.target is None:
            continue
        earlier = last.get(verdict.target)
        if earlier is None or date_order(verdict.creation_date) >= date_order(
            earlier.creation_date
        ):
            last[verdict.target] = verdict
    return {
        target: date_order(verdict.creation_date)
        for target, verdict in last.items()
        if verdict.verdict.casefold() in config.reject_verdicts
    }


def _adjusted_after(
    target: AnswerKey,
    when: str,
    drawn: Sequence[BoxSet],
    superseded: set[object],
) -> bool:
    """Whether an adjustment made after the verdict replaced (or redrew unchanged) every box
    set of the rejected answer: a later adjustment wins over a bad verdict on the originals,
    so nothing is rejected and the image needs no relabeling."""
    rejected = [b for b in drawn if b.answer == target]
    later = {
        b.geometry
        for b in drawn
        if b.answer != target
        and b.geometry not in superseded
        and date_order(b.creation_date) > when
    }
    return (
        bool(rejected)
        and bool(later)
        and all(b.geometry in superseded or b.geometry in later for b in rejected)
    )


def _without_rejected(
    labels: list[Label],
    box_sets: list[BoxSet],
    blank: list[AnswerKey],
    rejected: Mapping[AnswerKey, str],
    stats: ConsolidationStats,
) -> tuple[list[Label], list[BoxSet], list[AnswerKey]]:
    """Drop the rejected answers. Boxes are judged by what they are: the same boxes from
    another input go too, unless an adjustment drew them after the verdict (a later
    adjustment wins over a bad verdict on the originals)."""
    kept_labels = [label for label in labels if label.answer not in rejected]
    stats.labels_dropped["verdict: rejected"] += len(labels) - len(kept_labels)
    bad = {b.geometry: rejected[b.answer] for b in box_sets if b.answer in rejected}
    kept_boxes = []
    for box_set in box_sets:
        when = bad.get(box_set.geometry)
        if when is not None and date_order(box_set.creation_date) <= when:
            stats.boxes_dropped["verdict: rejected"] += len(box_set.boxes)
        else:
            kept_boxes.append(box_set)
    return kept_labels, kept_boxes, [answer for answer in blank if answer not in rejected]


def _labels(
    key: str,
    labels: list[Label],
    blank: list[AnswerKey],
    order: Mapping[AnswerKey, int],
    config: Consolidation,
    stats: ConsolidationStats,
    conflicts: list[dict[str, Any]],
) -> tuple[Label, ...]:
    """The labels to write: for each question, the classes the policy keeps, with the
    metadata of their first human-annotated occurrence (or first occurrence)."""
    answer_of = [label.answer for label in labels]
    question_of = config.question
    if _one_answer_each(dict.fromkeys(answer_of + blank), question_of, stats):
        return _first_of_each_class(labels)
    questions: dict[str, dict[AnswerKey, list[Label]]] = {}
    for label, answer in zip(labels, answer_of, strict=True):
        question = questions.setdefault(question_of(answer[0]), {})
        question.setdefault(answer, []).append(label)
    for answer in blank:
        questions.setdefault(question_of(answer[0]), {}).setdefault(answer, [])
    whole: set[AnswerKey] = set()  # answers whose every class is kept
    allowed: set[tuple[AnswerKey, str]] = set()  # (answer, class) kept of the others
    for name, given in questions.items():
        stats.saw_answers(name, len(given))
        if len(given) == 1:
            whole.update(given)
            continue
        keys = sorted(given, key=order.__getitem__)
        answers = [
            policies.Answer(
                answer,
                tuple(dict.fromkeys(label.name for label in given[answer])),
                # an empty selection (no label) only comes from a multi-label job
                not given[answer] or any(label.multilabel for label in given[answer]),
            )
            for answer in keys
        ]
        decision = policies.decide(answers, config)
        agreed = policies.agree(answers)
        _count(stats.question(name), keys, answers, agreed, policies.agree)
        if not agreed:
            conflicts.append(_label_conflict(key, name, answers, decision, config))
        for dropped, reason in decision.dropped.items():
            stats.labels_dropped[reason] += sum(dropped in a.classes for a in answers)
        kept = set(decision.kept)
        for index in decision.sources:
            source = answers[index]
            allowed.update((source.key, name) for name in source.classes if name in kept)
    return _first_of_each_class(
        label
        for label, answer in zip(labels, answer_of, strict=True)
        if answer in whole or (answer, label.name) in allowed
    )


def _one_answer_each(
    answers: Iterable[AnswerKey], question_of: Callable[[str], str], stats: ConsolidationStats
) -> bool:
    """When no question of an image has several answers (most images), count them and say
    so: there is nothing to compare or decide. Otherwise count nothing."""
    questions = [question_of(answer[0]) for answer in answers]
    if len(set(questions)) < len(questions):
        return False
    for question in questions:
        stats.saw_answers(question, 1)
    return True


def _first_of_each_class(labels: Iterable[Label]) -> tuple[Label, ...]:
    """One label per class: its first human-annotated occurrence, or its first."""
    chosen: dict[str, Label] = {}
    for label in labels:
        earlier = chosen.get(label.name)
        if earlier is None or (label.human_annotated and not earlier.human_annotated):
            chosen[label.name] = label
    return tuple(chosen.values())


def _box_sets(
    key: str,
    box_sets: list[BoxSet],
    order: Mapping[AnswerKey, int],
    config: Consolidation,
    stats: ConsolidationStats,
    conflicts: list[dict[str, Any]],
) -> tuple[BoxSet, ...]:
    """The box sets to write, in the order first seen; identical boxes are one set."""
    question_of = config.question
    if _one_answer_each(dict.fromkeys(b.answer for b in box_sets), question_of, stats):
        return _distinct(box_sets)
    questions: dict[str, dict[AnswerKey, list[int]]] = {}
    for position, box_set in enumerate(box_sets):
        answer = box_set.answer
        question = questions.setdefault(question_of(answer[0]), {})
        question.setdefault(answer, []).append(position)
    kept: list[tuple[int, BoxSet]] = []
    for name, given in questions.items():
        stats.saw_answers(name, len(given))
        if len(given) == 1:
            kept.extend((p, box_sets[p]) for positions in given.values() for p in positions)
            continue
        keys = sorted(given, key=order.__getitem__)
        # one box set per answer (a job draws one set on an image)
        sets = [box_sets[given[answer][0]] for answer in keys]

        def matched(pair: Sequence[BoxSet]) -> bool:
            return boxes.agree(pair, config.iou)

        agreed = boxes.same(sets)
        _count(stats.question(name), keys, sets, agreed, matched)
        if config.policy == "union":
            kept.extend((p, box_sets[p]) for positions in given.values() for p in positions)
            reason = "union: every box set kept"
            written = [box_sets[p] for positions in given.values() for p in positions]
        elif config.policy == "vote":
            voted = boxes.vote(sets, config)
            stats.boxes_dropped["vote: below quorum"] += voted.dropped - voted.tied
            stats.boxes_dropped["vote: tie"] += voted.tied
            written = [voted.box_set] if voted.box_set is not None else []
            kept.extend((min(p for ps in given.values() for p in ps), b) for b in written)
            reason = voted.reason
        else:
            chosen = 0 if config.policy == "first" else policies.latest(keys)
            written = [box_sets[p] for p in given[keys[chosen]]]
            kept.extend((p, box_sets[p]) for p in given[keys[chosen]])
            others = sum(len(s.boxes) for i, s in enumerate(sets) if i != chosen)
            stats.boxes_dropped[f"{config.policy}: not the {config.policy} answer"] += others
            reason = f"{config.policy} answer kept"
        if not agreed:
            conflicts.append(_box_conflict(key, name, sets, written, reason, config))
    kept.sort(key=lambda item: item[0])
    return _distinct(box_set for _, box_set in kept)


def _distinct(box_sets: Iterable[BoxSet]) -> tuple[BoxSet, ...]:
    unique: dict[object, BoxSet] = {}
    for box_set in box_sets:
        unique.setdefault(box_set.geometry, box_set)
    return tuple(unique.values())


def _count(
    stats: QuestionStats,
    keys: Sequence[AnswerKey],
    values: Sequence[T],
    agreed: bool,
    agree: Callable[[Sequence[T]], bool],
) -> None:
    """Count one image with several answers, and the agreement of each pair of jobs
    (``agree``: for boxes, within the IoU threshold)."""
    if agreed:
        stats.agreed += 1
    else:
        stats.conflicts += 1
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            first, second = sorted((_job(keys[i]), _job(keys[j])))
            stats.pairs[first, second] += 1
            if agreed or agree([values[i], values[j]]):
                stats.pairs_agreed[first, second] += 1


def _job(answer: AnswerKey) -> str:
    return answer[1] or answer[0]


def _provenance(answer: AnswerKey) -> dict[str, Any]:
    return {"attribute": answer[0], "job-name": answer[1], "creation-date": answer[2]}


def _label_conflict(
    key: str,
    question: str,
    answers: Sequence[policies.Answer],
    decision: policies.Decision,
    config: Consolidation,
) -> dict[str, Any]:
    return {
        "source-ref": key,
        "question": question,
        "type": "classification",
        "answers": [{**_provenance(a.key), "classes": list(a.classes)} for a in answers],
        "decision": {
            "policy": config.policy,
            "kept": list(decision.kept),
            "reason": decision.reason,
        },
    }


def _box_conflict(
    key: str,
    question: str,
    sets: Sequence[BoxSet],
    written: Iterable[BoxSet],
    reason: str,
    config: Consolidation,
) -> dict[str, Any]:
    return {
        "source-ref": key,
        "question": question,
        "type": "bounding-box",
        "answers": [{**_provenance(s.answer), "boxes": _boxes(s)} for s in sets],
        "decision": {
            "policy": config.policy,
            "kept": [box for s in written for box in _boxes(s)],
            "reason": reason,
        },
    }


def _boxes(box_set: BoxSet) -> list[dict[str, Any]]:
    return [
        {"class": b.class_name, "left": b.left, "top": b.top, "width": b.width, "height": b.height}
        for b in box_set.boxes
    ]


def _box_count(box_sets: Iterable[BoxSet]) -> int:
    return sum(len(box_set.boxes) for box_set in box_sets)
