"""Notebook services: canonical form, student versions, safe HTML and slides.

Plain Python, no Flask: pages, embeds and the API call these functions. The
submodules are imported on demand (`from panlearn.notebooks.render import
render_lesson`) so that a grading worker that only needs `student` does not pay
for nbconvert's import.
"""
