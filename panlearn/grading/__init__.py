"""Grading: the plain core (`grading.core`) and the app side around it.

The app side stores submissions and their runs (`submissions`, `runs`,
`drafts`, `reference`), queues and dispatches them (`queue`, `jobs`,
`runtime`, `tasks`), checks uploads (`intake`) and exercises at import
(`validation`), and renders the result (`feedback`). See docs/GRADING.md.
"""
