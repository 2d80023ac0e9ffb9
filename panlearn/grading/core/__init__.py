"""The grading core: plain Python, no Flask, no database.

It turns an exercise notebook and a submission into a score, in sandboxes:
the exercise contract read from nbgrader's cell metadata (`nbgrader`, `spec`),
matching a submission to it (`matching`), the sandboxes and their launchers
(`sandbox`, `sandboxes`, `launchers`, `zygote`, `inside`, `linux`, `cgroups`),
kernels and their pool (`kernels`, `pool`, `engine`), answers and checks
(`answers`, `checks`), the ordered steps of a grading (`pipeline`), running
some cells of a lesson as a learner edited them (`live`), its limits
(`settings`) and its errors (`errors`).

The app side (`grading.submissions`, `jobs`, `runtime`, ...) stores, queues and
dispatches; it calls in here, never the other way round (import-linter checks
this). Kept import-light: every sandboxed process imports this package.
"""
