"""Learner progress: enrolment in a course version, lesson and course completion, analytics.

- `enrolment`: enrol in the newest published version; stay there until asked to move.
- `completion`: readings marked read, exercises passed at the course's pass mark,
  course completion (which issues the credential).
- `report`: a learner's own progress per enrolled course.
- `analytics`: a course's numbers for its organisation's staff.
- `hooks`: the grading worker's call after a submission is graded (never fails grading).
"""
