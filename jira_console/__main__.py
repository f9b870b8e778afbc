"""``python -m jira_console``: the command line, as the ``jira-console`` script runs it."""

from jira_console.cli import main

main()
