"""The Textual operations console. It talks to the engine only through ``jira_console.facade.Engine`` and
receives engine events through one bridge (``bridge.py``); nothing outside this package imports Textual."""
