"""Quiz questions in lesson notebooks: answered and graded at once, without a kernel.

An author writes questions in markdown cells, in fenced blocks whose info
string is `quiz`, holding YAML (docs/AUTHORING.md, section "Quiz questions").

- `questions`: the typed `Question` and its validation (every problem named by field);
  the public view of a question, which never holds its answer key.
- `blocks`: finding ```quiz blocks in markdown, reading a notebook's questions
  (problems named by cell and field), and `strip_answer_keys`, the step that
  rewrites every block to its public view for the student version.
- `grading`: grading one answer of each type (choice, multi, numeric, text), a
  pure function; text patterns run on RE2, so no answer can make matching slow.
- `service`: the use cases on the database: record an attempt (attempt limits,
  penalties), a learner's state of a lesson's questions, lesson completion.
- `moodle`: Moodle XML export and import (parsed with defusedxml).
- `cli`: `flask courses export-quiz` and `flask courses import-quiz`.
"""
