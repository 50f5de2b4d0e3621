"""The eight claims of Bowman 2023, with the Japanese titles the blog article uses.

The article's titles are partly machine-translated (動作 for "behaviors", 値 for "values",
目標を絞ったイノベーション for "targeted innovation"): a natural gloss stands beside those words
in brackets, as the expert review of the course material asked, so the article's wording stays
recognisable and a learner still reads what Bowman meant.

Kept here (not read from the index) so the sidebar paints before anything loads.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    number: int
    title: str
    title_ja: str

    @property
    def question(self) -> str:
        return f"Explain claim {self.number}: {self.title}"

    @property
    def question_ja(self) -> str:
        return f"主張{self.number}「{self.title_ja.rstrip('。')}」について説明してください。"


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "LLMs predictably get more capable with increasing investment, even without "
             "targeted innovation",
          "LLM は、目標を絞ったイノベーション（特定の能力を狙った新発明）がなくても、投資の増加に伴って予想通り能力が向上します。"),
    Claim(2, "Many important LLM behaviors emerge unpredictably as a byproduct of increasing "
             "investment",
          "多くの重要な LLM 動作（振る舞い）は、投資増加の副産物として予期せぬ形で現れます。"),
    Claim(3, "LLMs often appear to learn and use representations of the outside world",
          "LLM は多くの場合、外界の表現を学習して使用しているように見えます。"),
    Claim(4, "There are no reliable techniques for steering the behavior of LLMs",
          "LLM の動作（振る舞い）を制御するための信頼できる技術はありません。"),
    Claim(5, "Experts are not yet able to interpret the inner workings of LLMs",
          "専門家はまだ LLM の内部動作を解釈できません。"),
    Claim(6, "Human performance on a task isn't an upper bound on LLM performance",
          "タスクに対する人間のパフォーマンスは、LLM パフォーマンスの上限ではありません。"),
    Claim(7, "LLMs need not express the values of their creators nor the values encoded in "
             "web text",
          "LLM は、作成者の値（価値観）や Web テキストにエンコードされた値を表現する必要はありません。"),
    Claim(8, "Brief interactions with LLMs are often misleading",
          "LLM との短いやり取りは誤解を招くことがよくあります。"),
)


def claim(number: int) -> Claim:
    return CLAIMS[number - 1]
