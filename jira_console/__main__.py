from jira_console.cli import main

main()
