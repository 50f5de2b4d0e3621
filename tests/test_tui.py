"""Pilot tests of the chat TUI over a scripted engine (deterministic, no model, no index)."""
from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest
from textual.widgets import Markdown, OptionList, TabbedContent

from tutor.history import History
from tutor.tui.app import TutorApp
from tutor.tui.panels import InspectorPanel, SourceCard, SourcesPanel
from tutor.tui.screens import (Confirm, DocumentScreen, HelpScreen, ModelPicker, SessionsScreen,
                               SettingsScreen, TextPrompt)
from tutor.tui.sidebar import ClaimList
from tutor.tui.testing import DEFAULT_ANSWER, Script, ScriptedBackend
from tutor.tui.turns import PromptInput

from test_tui_support import (SIZE, ask, home, make_app, press_on_claim, ready, settings_for,  # noqa: F401
                              type_question, wait_until)

pytestmark = pytest.mark.asyncio


def config(tmp_home: Path) -> dict[str, object]:
    path = tmp_home.parent / "config" / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def status(app: TutorApp) -> str:
    return app.chat._status_text().plain


async def test_first_screen_paints_before_the_engine_loads(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    app, backend = make_app(home, backend=ScriptedBackend(settings, load_gate=gate))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "4/10 chunks" in status(app), what="indexing progress")
        assert "indexing the corpus: 4/10 chunks, 0/2 files" in status(app)
        assert len(app.chat.query_one(ClaimList).options) == 8
        assert app.chat.query_one(PromptInput).has_focus
        gate.set()
        await ready(pilot, app)
        assert app.chat.engine_state == "ready"
        assert "ready · SmolLM2-135M-Instruct.Q4_1.gguf" in status(app)


async def test_ask_streams_a_cited_answer_and_shows_its_sources(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        turn = await ask(pilot, app, "What does claim 1 say?")
        assert turn.status == "done"
        assert turn.view.answer == DEFAULT_ANSWER.strip()
        shown = turn.query_one(".answer").answer  # type: ignore[attr-defined]
        assert "[1]" in shown and "scaling laws" in shown
        cards = app.chat.query_one(SourcesPanel).cards()
        assert [c.source["rank"] for c in cards] == [1, 2, 3]
        assert all(c.cited for c in cards)
        assert cards[0].source["legs"] == ["dense", "lexical"]
        assert cards[2].source["legs"] == ["lexical"]
        text = cards[0].render_card().plain
        assert "dense cos 0.512 #1" in text and "BM25 5.63 #2" in text
        meta = turn.meta_text().plain
        assert "Sources: [1] Kaplan et al. 2020" in meta and "42 tokens/s" in meta
        assert backend.calls == [{"question": "What does claim 1 say?", "history": [],
                                  "claim": None, "pinned": [], "use_llm": True}]
        (session,) = History(home).sessions()
        (record,) = History(home).turns(session.id)
        assert record.question == "What does claim 1 say?" and record.cited == [1, 2, 3]
        assert record.sources[0]["chunk_id"] == "kaplan-2020@34fb2757a952#0"
        assert record.budget["n_ctx"] == app.settings.n_ctx and "<source id=1>" in record.prompt
        assert app.chat.sub_title == "What does claim 1 say?"


async def test_enter_sends_and_ctrl_j_inserts_a_newline(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "ctrl+j", "b")
        box = app.chat.query_one(PromptInput)
        assert box.text == "a\nb" and not app.chat.turns
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[-1].finished)
        assert backend.calls[0]["question"] == "a\nb"
        assert box.text == ""


async def test_escape_stops_the_answer_and_keeps_what_came(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    backend = ScriptedBackend(settings, [Script(gate=gate, gate_after=4), Script()])
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        turn = await ask(pilot, app, "What does claim 1 say?", wait=False)
        await wait_until(pilot, lambda: len(turn.streamed.split()) >= 4, what="four tokens")
        await pilot.press("escape")
        await wait_until(pilot, lambda: turn.finished, what="the stop")
        assert turn.status == "stopped"
        assert turn.view.answer == "Claim 1 says that"
        assert "stopped: kept what came" in turn.meta_text().plain
        gate.set()  # the scripted model notices the cancel; its late tokens are dropped
        await pilot.pause(0.2)
        assert turn.view.answer == "Claim 1 says that"
        record = History(home).turns(History(home).sessions()[0].id)[0]
        assert (record.status, record.answer) == ("stopped", "Claim 1 says that")
        second = await ask(pilot, app, "And claim 2?")
        assert second.status == "done"
        assert backend.calls[1]["history"] == [("What does claim 1 say?", "Claim 1 says that")]


async def test_a_failed_request_shows_the_error_and_keeps_the_question(home: Path) -> None:
    settings = settings_for(home)
    backend = ScriptedBackend(settings, [Script(error="llama_decode returned -3"), Script()])
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        turn = await ask(pilot, app, "A long question I do not want to type again?")
        assert turn.status == "error"
        assert "RuntimeError: llama_decode returned -3" in turn.meta_text().plain
        box = app.chat.query_one(PromptInput)
        assert box.text == "A long question I do not want to type again?"
        assert app.is_running
        await pilot.press("enter")  # retry as it is
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and app.chat.turns[1].finished)
        assert app.chat.turns[1].status == "done"
        assert backend.calls[1]["history"] == []  # the failed turn is not history


async def test_questions_sent_while_loading_are_queued(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    app, backend = make_app(home, backend=ScriptedBackend(settings, load_gate=gate))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.chat.engine_state == "loading")
        turn = await ask(pilot, app, "Early question?", wait=False)
        await pilot.pause()
        assert turn.view.state == "queued-loading"
        assert "still loading" in turn.meta_text().plain
        assert backend.calls == []
        gate.set()
        await wait_until(pilot, lambda: turn.finished, what="the queued answer")
        assert turn.status == "done"


async def test_questions_sent_during_an_answer_wait_their_turn(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    backend = ScriptedBackend(settings, [Script(gate=gate), Script(answer="Second [1].")])
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        first = await ask(pilot, app, "First?", wait=False)
        await wait_until(pilot, lambda: first.view.state == "streaming")
        second = await ask(pilot, app, "Second?", wait=False)
        assert second.view.state == "queued"
        gate.set()
        await wait_until(pilot, lambda: second.finished, what="the second answer")
        assert first.status == second.status == "done"
        assert backend.calls[1]["history"] == [("First?", first.view.answer)]


async def test_without_a_model_answers_come_from_retrieval(home: Path) -> None:
    settings = settings_for(home)
    backend = ScriptedBackend(settings, model_error="models/missing.gguf: model file not found")
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.engine_state == "no-model"
        assert "model unavailable: models/missing.gguf: model file not found" in status(app)
        turn = await ask(pilot, app, "What does claim 1 say?")
        assert backend.calls[0]["use_llm"] is False
        assert turn.status == "done" and "[1]" in turn.view.answer
        assert "retrieval only" in turn.meta_text().plain
        app.chat.query_one(TabbedContent).active = "inspector-tab"
        await pilot.pause()
        assert "retrieval alone" in app.chat.query_one("#budget").render().plain  # type: ignore[attr-defined]


async def test_no_llm_flag_skips_the_model_until_one_is_picked(home: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF" + b"\0" * 16)
    settings = settings_for(home, model=str(models / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    app, backend = make_app(home, settings=settings, models_dir=models, use_llm=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert backend.model_name is None  # never loaded
        assert "retrieval only (--no-llm; F4 to pick a model)" in status(app)
        turn = await ask(pilot, app, "What does claim 1 say?")
        assert backend.calls[-1]["use_llm"] is False and "[1]" in turn.view.answer
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker))
        app.screen.query_one(OptionList).highlighted = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: backend.model_name is not None
                         and app.chat.engine_state == "ready")
        assert "retrieval only" not in status(app)
        await ask(pilot, app, "And now?")
        assert backend.calls[-1]["use_llm"] is True


async def test_engine_failure_keeps_the_app_up(home: Path) -> None:
    settings = settings_for(home)
    backend = ScriptedBackend(settings, open_error="chromadb: database is locked")
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.engine_state == "error"
        assert "chromadb: database is locked" in status(app)
        turn = await ask(pilot, app, "Anything?")
        assert turn.status == "error" and "could not start" in (turn.error or "")
        assert app.chat.query_one(PromptInput).text == "Anything?"


async def test_not_covered_questions_say_so(home: Path) -> None:
    settings = settings_for(home)
    app, _ = make_app(home, backend=ScriptedBackend(settings, [Script(covered=False)]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        turn = await ask(pilot, app, "What is the capital of France?")
        assert "does not cover" in turn.view.answer
        assert "Not covered" in turn.meta_text().plain
        assert "closest passages" in app.chat.query_one(".sources-head").render().plain  # type: ignore[attr-defined]


async def test_history_reloads_with_citations_and_feeds_the_prompt(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "First question?")
        await ask(pilot, app, "Second question?")
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.turns == []
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.turns) == 2, what="the chat to reload")
        old = app.chat.turns[1]
        assert old.finished and old.view.answer == DEFAULT_ANSWER.strip()
        assert "Sources: [1] Kaplan" in old.meta_text().plain
        assert [c.source["rank"] for c in app.chat.query_one(SourcesPanel).cards()] == [1, 2, 3]
        assert app.chat.sub_title == "First question?"
        turn = await ask(pilot, app, "Third question?")
        assert [q for q, _ in backend.calls[0]["history"]] == ["First question?", "Second question?"]
        assert turn.view.history_offered == 2
        assert len(History(home).turns(app.chat.session_id or 0)) == 3


async def test_sessions_rename_delete_and_new(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        app.screen.query_one("Input").value = "Scaling notes"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert History(home).sessions()[0].title == "Scaling notes"
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert History(home).sessions() == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)
        await wait_until(pilot, lambda: app.chat.turns == [], what="the deleted chat to close")
        assert app.chat.session_id is None


async def test_export_to_markdown(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        target = home / "mine" / "chat.md"
        app.screen.query_one("Input").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, target.exists, what="the export")
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# What does claim 1 say?")
        assert "1. **Kaplan et al. 2020: Scaling Laws for Neural Language Models**" in text
        assert "(cited)" in text and DEFAULT_ANSWER.splitlines()[0] in text


async def test_claims_sidebar_explains_a_claim_with_pinned_sources(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await press_on_claim(pilot, app, 3, "enter")
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[-1].finished)
        call = backend.calls[-1]
        assert call["claim"] == 3 and call["pinned"] == ["claim-3@0#0"]
        assert call["question"].startswith("Explain claim 3: LLMs often appear to learn")
        first = app.chat.query_one(SourcesPanel).cards()[0]
        assert "pinned for the claim" in first.render_card().plain
        assert "Claim 3 · guided explanation" in str(app.chat.turns[-1].query_one(".question").render())
        await press_on_claim(pilot, app, 3, "j")
        await wait_until(pilot, lambda: len(backend.calls) == 2 and app.chat.turns[-1].finished)
        assert backend.calls[-1]["question"].startswith("主張3「LLM は多くの場合")


async def test_model_picker_lists_ggufs_and_switches(home: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("SmolLM2-135M-Instruct.Q4_1.gguf", "Other-1B.Q4_K_M.gguf"):
        (models / name).write_bytes(b"GGUF" + b"\0" * 16)
    settings = settings_for(home, model=str(models / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    app, backend = make_app(home, settings=settings, models_dir=models)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker))
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "Other-1B.Q4_K_M.gguf" in labels[0] and "(in use)" in labels[1]
        assert "Retrieval only" in labels[2]
        options.highlighted = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: backend.switched and app.chat.engine_state == "ready")
        assert backend.switched == [models / "Other-1B.Q4_K_M.gguf"]
        assert "Other-1B.Q4_K_M.gguf" in status(app)
        assert config(home)["model"] == str(models / "Other-1B.Q4_K_M.gguf")
        turn = await ask(pilot, app, "Which model?")
        assert turn.view.model == "Other-1B.Q4_K_M.gguf"
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker))
        app.screen.query_one(OptionList).highlighted = 2
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat)
        await ask(pilot, app, "No model now?")
        assert backend.calls[-1]["use_llm"] is False


async def test_open_the_cited_document_at_the_passage(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        cards = app.chat.query_one(SourcesPanel).cards()
        cards[1].focus()
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentScreen))
        screen = app.screen
        assert isinstance(screen, DocumentScreen)
        assert screen.target == "claim-1@31eeaf24fe02#1"
        assert len(screen.query(".doc-chunk")) == 4 and len(screen.query(".-target")) == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)
        await pilot.press("ctrl+o")  # from anywhere: the focused or first cited source
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentScreen))


async def test_panels_follow_the_selected_answer(home: Path) -> None:
    settings = settings_for(home)
    one = Script(answer="Only the first [1].")
    two = Script(answer="Second answer [2].")
    app, _ = make_app(home, backend=ScriptedBackend(settings, [one, two]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "One?")
        await ask(pilot, app, "Two?")
        cited = lambda: [c.source["rank"] for c in app.chat.query_one(SourcesPanel).cards() if c.cited]  # noqa: E731
        assert cited() == [2]
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: app.chat.selected is app.chat.turns[0])
        assert cited() == [1]
        assert app.chat.turns[0].has_class("-selected")
        await pilot.press("f5")
        await pilot.pause()
        assert app.chat.query_one(TabbedContent).active == "inspector-tab"
        prompt = app.chat.query_one(InspectorPanel).query_one("#prompt-text").text  # type: ignore[attr-defined]
        assert "Question: One?" in prompt


async def test_long_chats_are_trimmed_to_fit_n_ctx(home: Path) -> None:
    long = "word " * 300 + "[1]"
    settings = settings_for(home, n_ctx=1024)
    app, backend = make_app(home, settings=settings,
                            backend=ScriptedBackend(settings, lambda q: Script(answer=long)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        for n in range(4):
            turn = await ask(pilot, app, f"Question {n}?")
        assert len(backend.calls[-1]["history"]) == 3  # the TUI offers every earlier turn...
        budget = turn.view.budget
        assert budget["history_turns"] < 3  # ...and the prompt keeps what fits
        table = app.chat.query_one(InspectorPanel).query_one("#budget").render()
        assert "trimmed to fit" in str(getattr(table, "plain", "")) or budget["prompt"] <= 1024


async def test_help_screen_and_quiz_key(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one(Markdown).source
        assert "Ctrl+J" in text and "Esc" in text and "F4" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)
        await pilot.press("f3")
        await pilot.pause()
        try:
            from tutor.tui.quiz_screen import QuizScreen  # type: ignore[import-not-found]
        except ImportError:
            assert any("quiz not available" in str(n.message) for n in app._notifications)
        else:
            await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen))


async def test_p_on_a_claim_opens_the_quiz_on_that_claim(home: Path) -> None:
    from tutor.tui.quiz_screen import QuizScreen

    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await press_on_claim(pilot, app, 5, "p")
        await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen)
                         and app.screen.session is not None, what="the quiz on claim 5")
        queue = app.screen.session.queue  # type: ignore[attr-defined]
        assert queue and {item.claim for item in queue} == {5}
        assert "Claim 5" in str(app.screen.query_one("#quiz-head").render())


async def test_command_palette_has_every_action(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Ask: new chat", "Chats", "Export chat to Markdown", "Stop the answer",
                       "Open the cited source document", "Show prompt inspector", "Pick model",
                       "Settings", "Quiz", "Help", "Theme", "Explain claim 8", "Add documents"):
            assert wanted in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Help")
        command.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_settings_are_saved_and_applied(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#set-k").value = "5"  # type: ignore[attr-defined]
        app.screen.query_one("#set-temperature").value = "0.7"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: backend.settings.k == 5, what="the new settings")
        assert config(home)["k"] == 5 and config(home)["temperature"] == 0.7
        assert "5 sources" in status(app) and "temperature 0.7" in status(app)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#set-k").value = "many"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is app.chat)
        assert config(home)["k"] == 5 and backend.settings.k == 5


async def test_theme_choice_is_saved(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.theme = "nord"
        await pilot.pause()
        assert config(home)["theme"] == "nord"
    app, _ = make_app(home, settings=settings_for(home))
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord"


async def test_follow_the_stream_only_at_the_bottom(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    long = "\n\n".join(f"Paragraph {i} about scaling laws [1]." for i in range(80))
    backend = ScriptedBackend(settings, [Script(answer=long, gate=gate, gate_after=300)])
    app, _ = make_app(home, backend=backend)
    async with app.run_test(size=(140, 24)) as pilot:
        await ready(pilot, app)
        turn = await ask(pilot, app, "Tell me everything", wait=False)
        log = app.chat.query_one("#chat-log")
        await wait_until(pilot, lambda: len(turn.streamed.split()) >= 300)
        await wait_until(pilot, lambda: log.max_scroll_y > 10 and log.scroll_y == log.max_scroll_y,
                         what=f"the log to follow the stream ({log.scroll_y}/{log.max_scroll_y})")
        log.scroll_to(y=0, animate=False, immediate=True)
        log.release_anchor()
        await pilot.pause()
        gate.set()
        await wait_until(pilot, lambda: turn.finished)
        await pilot.pause()
        assert log.scroll_y == 0  # the learner scrolled up: the stream does not pull them down


async def test_claims_sidebar_toggles_in_wide_and_narrow_terminals(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        sidebar = app.chat.query_one("#sidebar")
        assert sidebar.display and sidebar.region.width > 0
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert sidebar.region.width == 0
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert sidebar.region.width > 0
    app, _ = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:  # narrow: hidden until asked for
        await ready(pilot, app)
        sidebar = app.chat.query_one("#sidebar")
        assert sidebar.region.width == 0
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert sidebar.region.width > 0
