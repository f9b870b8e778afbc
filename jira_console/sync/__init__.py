"""Two-way sync of Jira connections with the store, one room per job: the per-connection context
(``context``), the coordinator (``engine``), pull, push with its Jira writer, reconciliation, boards and
sprints, webhook apply (``remote``) and the webhook router, on top of field codecs, the three-way merge and
conflict resolution."""
