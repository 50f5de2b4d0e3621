"""The Textual TUI: ``run_app(settings, screen)`` in :mod:`tutor.tui.app`.

Nothing heavy is imported here, so the first screen paints before the engine loads.
"""
