"""End to end: the TUI over the real index (bundled corpus) and the real default model."""
from __future__ import annotations

import pytest

from tutor.config import DEFAULT_MODEL_NAME
from tutor.history import History
from tutor.tui.panels import InspectorPanel, SourcesPanel
from tutor.tui.screens import DocumentScreen

from test_tui_support import SIZE, ask, needs_model, ready, real_app, real_engine_ready, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@needs_model
async def test_real_model_answers_with_citations(indexed_settings) -> None:  # type: ignore[no-untyped-def]
    app = real_app(indexed_settings, max_tokens=64)
    settings = app.settings
    async with app.run_test(size=SIZE) as pilot:
        # first use indexes the bundled corpus (unless another test did) and loads both models
        await real_engine_ready(pilot, app)
        assert DEFAULT_MODEL_NAME in app.chat._status_text().plain
        await ready(pilot, app)
        turn = await ask(pilot, app, "What does claim 1 say about scaling laws?", wait=False)
        await wait_until(pilot, lambda: turn.finished, timeout=600, what="the real answer")
        assert turn.status == "done", turn.error
        assert "[" in turn.view.answer and turn.view.model == DEFAULT_MODEL_NAME
        assert turn.view.answer.strip()

        panel = app.chat.query_one(SourcesPanel)
        await wait_until(pilot, lambda: panel.cards() and app.chat._active is None, timeout=60,
                         what="the sources panel to list the retrieved passages")
        sources = panel.cards()
        first = sources[0].source
        assert first["rank"] == 1 and first["legs"] and first["text"]
        assert any("claim-1" in s.source["doc_id"] or "kaplan" in s.source["doc_id"]
                   for s in sources)
        assert any(c.cited for c in sources)

        prompt = app.chat.query_one(InspectorPanel).query_one("#prompt-text").text  # type: ignore[attr-defined]
        assert "<source id=1>" in prompt and "What does claim 1 say about scaling laws?" in prompt
        assert turn.view.budget["n_ctx"] == settings.n_ctx
        assert turn.view.budget["prompt"] + turn.view.budget["answer_reserved"] <= settings.n_ctx

        (record,) = History(settings.home).turns(app.chat.session_id or 0)
        assert record.sources and record.model == DEFAULT_MODEL_NAME and record.prompt == prompt

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentScreen), timeout=60)
        assert app.screen.query(".-target"), "the viewer marks the cited passage"
