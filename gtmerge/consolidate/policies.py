"""Consolidation policies: small pure functions over one image's answers to one question.

An *answer* is what one job said about one image for one question: the classes it chose (a
single-label job chooses one, a multi-label job any number, none included) or the boxes it
drew. Answers come in input order, each once (the same attribute, job and date seen again in a
chained job's output is the same answer). ``docs/merging.md`` explains each policy with an
example; ``tests/test_policies.py`` checks them exhaustively on small cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from gtmerge.consolidate.config import Consolidation, Tie
from gtmerge.model import AnswerKey
from gtmerge.rekognition import date_order


@dataclass(frozen=True, slots=True)
class Answer:
    """One job's answer to a classification question: its classes in the order given."""

    key: AnswerKey
    classes: tuple[str, ...]
    multilabel: bool = False


@dataclass(frozen=True)
class Decision:
    """What a policy keeps of one question's answers, and why.

    ``sources`` are the indices of the answers whose labels carry the kept classes (their
    metadata is written); ``dropped`` gives, for every class not kept, the reason.
    """

    kept: tuple[str, ...]
    reason: str
    sources: tuple[int, ...]
    dropped: dict[str, str] = field(default_factory=dict)


def agree(answers: Sequence[Answer]) -> bool:
    """Whether every answer chose the same set of classes."""
    first = set(answers[0].classes)
    return all(set(answer.classes) == first for answer in answers[1:])


def latest(keys: Sequence[AnswerKey]) -> int:
    """The index of the answer with the latest creation-date (the later in input order on a
    tie)."""
    return max(range(len(keys)), key=lambda index: (date_order(keys[index][2]), index))


def decide(answers: Sequence[Answer], config: Consolidation) -> Decision:
    """Consolidate the answers of one question by ``config.policy``."""
    classes = tuple(dict.fromkeys(name for answer in answers for name in answer.classes))
    everyone = tuple(range(len(answers)))
    if config.policy == "union":
        return Decision(classes, "union: every class kept", everyone)
    if config.policy in ("first", "latest"):
        chosen = 0 if config.policy == "first" else latest([a.key for a in answers])
        kept = answers[chosen].classes
        reason = f"{config.policy}: not the {config.policy} answer"
        dropped = {name: reason for name in classes if name not in kept}
        return Decision(kept, f"{config.policy} answer kept", (chosen,), dropped)
    if any(answer.multilabel for answer in answers):
        return _vote_each(answers, classes, config)
    return _vote_one(answers, classes, config)


def _vote_each(
    answers: Sequence[Answer], classes: tuple[str, ...], config: Consolidation
) -> Decision:
    """Multi-label: each class is kept when a quorum of the answers chose it. Under the
    default quorum (more than half), a class chosen by exactly half the answers is a tie."""
    votes = _votes(answers)
    required = config.required_votes(len(answers))
    deciding = 0 if config.tie == "first" else latest([answer.key for answer in answers])
    kept, dropped = [], {}
    tied = False
    for name in classes:
        if votes[name] >= required:
            kept.append(name)
        elif config.quorum is None and 2 * votes[name] == len(answers):
            # the first (or latest) answer says whether the class is in
            tied = True
            if config.tie != "drop" and name in answers[deciding].classes:
                kept.append(name)
            else:
                dropped[name] = "vote: tie"
        else:
            dropped[name] = "vote: below quorum"
    reason = "majority" if config.quorum is None else f"quorum {required} of {len(answers)}"
    if tied:
        reason += f", ties: {tie_reason(config.tie)}"
    return Decision(tuple(kept), reason, tuple(range(len(answers))), dropped)


def _vote_one(
    answers: Sequence[Answer], classes: tuple[str, ...], config: Consolidation
) -> Decision:
    """Single-label: at most one class, the one most answers chose if it has a quorum. When
    several classes share the most votes (and no class has more than half, or each has the
    explicit quorum), ``--tie`` decides between them."""
    votes = _votes(answers)
    everyone = tuple(range(len(answers)))
    if not classes:
        return Decision((), "no class chosen", everyone)
    top = max(votes[name] for name in classes)
    leaders = [name for name in classes if votes[name] == top]
    required = config.required_votes(len(answers))
    if len(leaders) == 1 and top >= required:
        winner: str | None = leaders[0]
        reason = "majority" if config.quorum is None else f"quorum {required} of {len(answers)}"
    elif len(leaders) > 1 and (top >= required or config.quorum is None):
        winner = _tie_winner(answers, set(leaders), config.tie)
        reason = f"tie between {', '.join(leaders)}: {tie_reason(config.tie)}"
    else:
        winner = None
        reason = f"no quorum: {top} of {len(answers)} answers, {required} needed"
    dropped = {}
    for name in classes:
        if name == winner:
            continue
        if name in leaders and len(leaders) > 1 and reason.startswith("tie"):
            dropped[name] = "vote: tie"
        elif winner is not None:
            dropped[name] = "vote: outvoted"
        else:
            dropped[name] = "vote: below quorum"
    return Decision((winner,) if winner else (), reason, everyone, dropped)


def _votes(answers: Sequence[Answer]) -> Counter[str]:
    return Counter(name for answer in answers for name in set(answer.classes))


def _tie_winner(answers: Sequence[Answer], tied: set[str], tie: Tie) -> str | None:
    """The tied class that the first (or latest) answer choosing one of them gave; None for
    ``drop``."""
    if tie == "drop":
        return None
    giving = [index for index, answer in enumerate(answers) if tied & set(answer.classes)]
    if tie == "first":
        chosen = giving[0]
    else:
        chosen = giving[latest([answers[index].key for index in giving])]
    return next(name for name in answers[chosen].classes if name in tied)


def tie_reason(tie: Tie) -> str:
    return {"first": "first answer wins", "latest": "latest answer wins", "drop": "dropped"}[tie]
