"""jira-console: keep a SQL database and Jira (Cloud and Server/DC) in two-way sync."""

__version__ = "0.1.0"
