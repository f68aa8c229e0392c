"""The consolidation policies on small cases, one answer set at a time, and exhaustively."""

from __future__ import annotations

import itertools

import pytest

from gtmerge.consolidate.boxes import iou, match, vote
from gtmerge.consolidate.config import Consolidation, OptionError
from gtmerge.consolidate.policies import Answer, agree, decide, latest
from gtmerge.model import Box, BoxSet, ImageSize


def answers(*given: str | tuple[str, ...], multilabel: bool = False) -> list[Answer]:
    """One answer per argument, job j0, j1, ... dated in that order (so the last is latest)."""
    return [
        Answer(
            ("species", f"j{index}", f"2026-01-0{index + 1}T00:00:00"),
            (classes,) if isinstance(classes, str) else classes,
            multilabel,
        )
        for index, classes in enumerate(given)
    ]


def kept(given: list[Answer], **options: object) -> tuple[str, ...]:
    return decide(given, Consolidation(**options)).kept  # type: ignore[arg-type]


def test_union_keeps_every_class_in_first_seen_order() -> None:
    assert kept(answers("deer", "elk", "deer")) == ("deer", "elk")


def test_vote_keeps_the_majority_class_of_a_single_label_question() -> None:
    decision = decide(answers("deer", "elk", "deer"), Consolidation(policy="vote"))
    assert decision.kept == ("deer",)
    assert decision.reason == "majority"
    assert decision.dropped == {"elk": "vote: outvoted"}


@pytest.mark.parametrize(
    ("tie", "expected", "reason"),
    [
        ("drop", (), "tie between deer, elk: dropped"),
        ("first", ("deer",), "tie between deer, elk: first answer wins"),
        ("latest", ("elk",), "tie between deer, elk: latest answer wins"),
    ],
)
def test_a_single_label_tie_follows_tie(tie: str, expected: tuple[str, ...], reason: str) -> None:
    decision = decide(answers("deer", "elk"), Consolidation(policy="vote", tie=tie))  # type: ignore[arg-type]
    assert decision.kept == expected
    assert decision.reason == reason
    assert set(decision.dropped.values()) == {"vote: tie"}


def test_latest_tie_break_uses_the_creation_date_not_the_input_order() -> None:
    given = answers("deer", "elk")
    given[0] = Answer(("species", "j0", "2027-01-01T00:00:00"), ("deer",))
    assert kept(given, policy="vote", tie="latest") == ("deer",)


def test_a_plurality_without_majority_is_not_kept() -> None:
    decision = decide(answers("deer", "deer", "elk", "moose"), Consolidation(policy="vote"))
    assert decision.kept == ()
    assert decision.reason == "no quorum: 2 of 4 answers, 3 needed"


def test_an_explicit_quorum_is_rounded_up() -> None:
    config = Consolidation(policy="vote", quorum=0.7)
    assert config.required_votes(5) == 4
    assert kept(answers("a", "a", "a", "a", "b"), policy="vote", quorum=0.7) == ("a",)
    assert kept(answers("a", "a", "a", "b", "b"), policy="vote", quorum=0.7) == ()


def test_multilabel_keeps_each_class_a_majority_chose() -> None:
    given = answers(("cat", "dog"), ("cat",), ("dog", "bird"), multilabel=True)
    decision = decide(given, Consolidation(policy="vote"))
    assert decision.kept == ("cat", "dog")
    assert decision.dropped == {"bird": "vote: below quorum"}


def test_an_empty_multilabel_answer_is_a_vote_against() -> None:
    given = answers(("cat",), (), (), multilabel=True)
    assert kept(given, policy="vote") == ()
    assert kept(given[:1], policy="vote") == ("cat",)


@pytest.mark.parametrize(("tie", "expected"), [("drop", ()), ("first", ("cat",)), ("latest", ())])
def test_a_multilabel_class_chosen_by_half_the_answers_is_a_tie(
    tie: str, expected: tuple[str, ...]
) -> None:
    given = answers(("cat",), (), multilabel=True)
    assert kept(given, policy="vote", tie=tie) == expected


def test_latest_and_first_keep_one_answer() -> None:
    given = answers("deer", "elk", "moose")
    assert decide(given, Consolidation(policy="first")).sources == (0,)
    assert kept(given, policy="first") == ("deer",)
    assert kept(given, policy="latest") == ("moose",)
    assert decide(given, Consolidation(policy="latest")).dropped == {
        "deer": "latest: not the latest answer",
        "elk": "latest: not the latest answer",
    }


def test_latest_prefers_the_later_input_on_equal_dates() -> None:
    keys = [("a", "j0", "2026-01-01T00:00:00"), ("a", "j1", "2026-01-01 00:00:00.000Z")]
    assert latest(keys) == 1


CLASSES = ("a", "b", "c")


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_single_label_vote_exhaustively(count: int) -> None:
    """Every combination of up to five single-label answers over three classes: the kept
    class has a strict majority, or ties at the top and comes from the tie rule."""
    for combination in itertools.product(CLASSES, repeat=count):
        given = answers(*combination)
        votes = {name: combination.count(name) for name in CLASSES}
        top = max(votes.values())
        leaders = [name for name in CLASSES if votes[name] == top]
        for tie in ("drop", "first", "latest"):
            result = kept(given, policy="vote", tie=tie)
            if 2 * top > count:
                assert result == (leaders[0],), combination
            elif len(leaders) == 1 or tie == "drop":
                assert result == (), combination
            elif tie == "first":
                assert result == (next(c for c in combination if c in leaders),), combination
            else:
                assert result == (next(c for c in reversed(combination) if c in leaders),)
        assert agree(given) == (len(set(combination)) == 1)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_multilabel_vote_exhaustively(count: int) -> None:
    subsets = [s for n in range(3) for s in itertools.combinations(CLASSES, n)]
    for combination in itertools.product(subsets, repeat=count):
        given = answers(*combination, multilabel=True)
        result = set(kept(given, policy="vote"))
        for name in CLASSES:
            votes = sum(name in chosen for chosen in combination)
            assert (name in result) == (2 * votes > count), combination


def box(name: str, left: float, top: float, width: float = 100, height: float = 100) -> Box:
    return Box(name, left, top, width, height, 0.5)


def box_set(job: str, *boxes: Box, date: str = "2026-01-01T00:00:00") -> BoxSet:
    return BoxSet(ImageSize(640, 480), boxes, True, date, job, "boxes")


def test_iou() -> None:
    assert iou(box("a", 0, 0), box("a", 0, 0)) == 1
    assert iou(box("a", 0, 0), box("a", 50, 0)) == pytest.approx(50 / 150)
    assert iou(box("a", 0, 0), box("a", 100, 0)) == 0
    assert iou(box("a", 0, 0, 0, 0), box("a", 0, 0, 0, 0)) == 0


def test_box_vote_keeps_objects_a_majority_drew_at_their_mean() -> None:
    sets = [
        box_set("j0", box("cat", 100, 100), box("dog", 300, 300)),
        box_set("j1", box("cat", 110, 100), box("dog", 500, 10)),
        box_set("j2", box("cat", 105, 103)),
    ]
    result = vote(sets, Consolidation(policy="vote"))
    assert result.box_set is not None
    assert result.box_set.boxes == (Box("cat", 105, 101, 100, 100, 0.5),)
    assert result.dropped == 2
    assert result.box_set.job_name == "j0"


def test_box_vote_does_not_match_boxes_of_another_class_or_below_the_iou() -> None:
    sets = [box_set("j0", box("cat", 0, 0)), box_set("j1", box("dog", 0, 0))]
    assert len(match(sets, 0.5)) == 2
    sets = [box_set("j0", box("cat", 0, 0)), box_set("j1", box("cat", 50, 0))]
    assert len(match(sets, 0.5)) == 2
    assert len(match(sets, 0.3)) == 1


def test_box_vote_means_are_exact_not_rounded() -> None:
    sets = [box_set("j0", box("cat", 100, 100)), box_set("j1", box("cat", 101, 100))]
    result = vote(sets, Consolidation(policy="vote"))
    assert result.box_set is not None
    assert result.box_set.boxes[0].left == 100.5
    assert result.box_set.boxes[0].top == 100


@pytest.mark.parametrize(("tie", "kept_boxes"), [("drop", 0), ("first", 1), ("latest", 0)])
def test_an_object_drawn_by_half_the_answers_is_a_tie(tie: str, kept_boxes: int) -> None:
    sets = [box_set("j0", box("cat", 100, 100)), box_set("j1", date="2026-02-01T00:00:00")]
    result = vote(sets, Consolidation(policy="vote", tie=tie))  # type: ignore[arg-type]
    assert (len(result.box_set.boxes) if result.box_set else 0) == kept_boxes


def test_bad_options_are_refused_with_the_option_named() -> None:
    with pytest.raises(OptionError, match=r"--quorum 1.5: a fraction above 0 and at most 1"):
        Consolidation(quorum=1.5)
    with pytest.raises(OptionError, match=r"--policy 'majority': one of union, vote"):
        Consolidation(policy="majority")  # type: ignore[arg-type]


def test_box_vote_scales_answers_drawn_at_another_image_size_to_the_first() -> None:
    large = BoxSet(
        ImageSize(1280, 960), (box("cat", 200, 200),), True, "2026-01-01T00:00:00", "j0", "boxes"
    )
    sets = [
        large,
        box_set("j1", box("cat", 104, 100, 50, 50)),
        box_set("j2", box("cat", 96, 100, 50, 50)),
    ]
    result = vote(sets, Consolidation(policy="vote"))
    assert result.box_set is not None
    assert result.box_set.image_size == ImageSize(1280, 960)
    assert result.box_set.boxes == (Box("cat", 200, 200, 100, 100, 0.5),)
