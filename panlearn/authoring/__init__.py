"""Authoring: course folders (and archives of them) into versioned database rows."""
