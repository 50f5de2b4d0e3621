"""Cloze items from the learner's own documents."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tutor.quiz.bank import BLANK
from tutor.quiz.generate import generated_items, has_user_documents, items_for_document
from tutor.quiz.grade import Grader

EN = ("Photosynthesis converts light energy into chemical energy in plants. "
      "Chlorophyll absorbs mostly blue and red light, which is why leaves look green. "
      "The Calvin cycle fixes carbon dioxide into sugars inside the chloroplast. "
      "In a typical leaf, about 3% of the incoming light ends up stored as chemical energy. "
      "Chlorophyll sits in the thylakoid membranes of the chloroplast.")
JA = ("光合成は、光のエネルギーを化学エネルギーに変える植物の働きです。"
      "クロロフィルは主に青と赤の光を吸収するため、葉は緑色に見えます。"
      "カルビン回路は葉緑体の中で二酸化炭素を糖に固定します。"
      "クロロフィルは葉緑体のチラコイド膜にあります。")


@dataclass
class Doc:
    doc_id: str
    title: str
    origin: str
    claims: list[int] = field(default_factory=list)


@dataclass
class Chunk:
    text: str


class FakeIndex:
    def __init__(self) -> None:
        self.docs = [Doc("claim-1", "Claim 1", "bundled", [1]), Doc("plants-abc123", "Plants", "user"),
                     Doc("kougousei-def456", "光合成", "user")]
        self.texts = {"claim-1": [EN], "plants-abc123": [EN[:200], EN[150:]], "kougousei-def456": [JA]}

    def documents(self):
        return self.docs

    def chunks_of(self, doc_id: str):
        return [Chunk(t) for t in self.texts[doc_id]]


def test_items_come_from_user_documents_only():
    items = generated_items(FakeIndex())
    docs = {i.doc_id for i in items}
    assert docs == {"plants-abc123", "kougousei-def456"}
    assert all(i.generated and i.kind == "cloze" and i.id.startswith("gen-") for i in items)


def test_generated_cloze_items_are_sound():
    index = FakeIndex()
    items = generated_items(index)
    grader = Grader()
    for item in items:
        text = " ".join(index.texts[item.doc_id])
        assert item.quote in text  # the source sentence, verbatim
        assert BLANK in item.prompt and item.answer not in item.prompt.replace(BLANK, "")
        assert grader.grade(item, item.answer).verdict == "correct"
        assert grader.grade(item, "zzzz").verdict == "wrong"
        assert len(item.hints) == 2 and item.explanation
    assert any(i.lang == "ja" for i in items) and any(i.lang == "en" for i in items)
    numeric = [i for i in items if i.answer.startswith("3")]
    assert numeric and grader.grade(numeric[0], "3").verdict == "correct"  # "3%" == "3"


def test_generation_is_deterministic_and_ids_are_stable():
    first = items_for_document("plants-abc123", "Plants", [EN])
    again = items_for_document("plants-abc123", "Plants (renamed)", [EN + " A new closing sentence."])
    assert [i.id for i in first] == [i.id for i in items_for_document("plants-abc123", "Plants", [EN])]
    assert {i.id for i in first} & {i.id for i in again}  # unchanged sentences keep their ids
    assert len(first) <= 5


def test_no_index_means_no_user_documents(tmp_path: Path):
    assert not has_user_documents(tmp_path)


@pytest.mark.slow
def test_items_from_a_document_added_to_the_real_index(tmp_path: Path):
    from tutor.config import Settings
    from tutor.index import Index
    from tutor.quiz.generate import items_for_settings

    note = tmp_path / "plants.md"
    note.write_text("# Plants\n\n" + EN + "\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    results = Index(settings).add_paths([str(note)])
    assert results[0].status == "added"
    assert has_user_documents(settings.home)
    items = items_for_settings(settings)
    assert items and all(i.doc_id == results[0].doc_id for i in items)
