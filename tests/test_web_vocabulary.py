"""The UI has words for everything the field and the rules can say, in French and in English."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

import vigie_wire as wire
from coordinator.interventions.rules import RULE_TYPES, TALQ_FAULTS
from coordinator.web import i18n, vocabulary

MANIFEST = Path(__file__).resolve().parent.parent / "models" / "nanodet-g-416.manifest.json"
LANGS = ("fr", "en")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", LANGS)
def test_every_wire_event_type_has_a_name_and_a_sentence(lang: str) -> None:
    words = i18n.catalogue(lang)
    for cls in wire.EVENT_TYPES.values():
        assert f"ev.{cls.wire_name}" in words, cls.wire_name
    for key in ("ev.unknown", "evd.detection", "evd.track_end", "evd.zone_enter", "evd.zone_leave", "evd.occupancy",
                "evd.line_crossing", "evd.loitering", "evd.counts", "evd.lamp_fault_on", "evd.unknown"):
        assert key in words


def test_every_class_of_the_detector_has_a_word_in_both_languages_in_its_order() -> None:
    names = json.loads(MANIFEST.read_text(encoding="utf-8"))["class_names"]
    assert len(vocabulary.CLASSES) == len(names)
    for fr, en in vocabulary.CLASSES:
        assert fr.count("|") == 1 and en.count("|") == 1 and all(fr.split("|")) and all(en.split("|"))
    # The order is the model's: spot-check the classes a street camera reports.
    for index, name in ((0, "person"), (1, "bicycle"), (2, "car"), (3, "motorcycle"), (5, "bus"), (7, "truck"),
                        (79, "toothbrush")):
        assert names[index] == name
        assert vocabulary.CLASSES[index][1].split("|")[0] == name
    assert [vocabulary.CLASSES[i][0] for i in (0, 1, 2, 5)] == ["personne|personnes", "vélo|vélos",
                                                              "voiture|voitures", "bus|bus"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_talq_fault_and_rule_kind_is_worded(lang: str) -> None:
    words = i18n.catalogue(lang)
    for fault in TALQ_FAULTS:
        assert f"fault.{fault}" in words
    for kind in RULE_TYPES:
        assert f"ivt.{kind}" in words and f"ivd.{kind}" in words


def test_french_and_english_templates_take_the_same_parameters() -> None:
    """A placeholder missing from one language would print blank there."""
    assert set(vocabulary.EN) <= set(vocabulary.FR)
    for key, en in vocabulary.EN.items():
        assert _fields(en) == _fields(vocabulary.FR[key]), key


def test_french_words_use_french_typography() -> None:
    """A colon is preceded by a space in French; no English quote marks in French sentences."""
    for key, text in vocabulary.FR.items():
        for i, ch in enumerate(text):
            if ch == ":" and i > 0:
                assert text[i - 1] in " \u00a0\u202f", key
        assert "“" not in text and '"' not in text, key
