"""The Textual operations console. It talks to the engine only through the facade's ``ConsoleEngine``
protocol (which ``jira_console.facade.Engine`` implements) and receives engine events through one bridge
(``bridge.py``); nothing outside this package imports Textual."""
