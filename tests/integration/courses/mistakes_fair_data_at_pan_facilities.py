"""Plausible mistakes in the exercises of the onboarding course on FAIR data."""

from tests.integration.courses.mistakes import Mistake

NEXUS = "03-exercise-metadata-in-a-nexus-file.ipynb"
SEARCH = "05-exercise-querying-the-federated-search.ipynb"

MISTAKES = [
    Mistake(NEXUS, {"entry-solution": 'entry_path = "/entry1/data1"'},
            "check-entry", "NX_class attribute"),
    Mistake(NEXUS, {"wavelength-solution": (
        'wavelength = float(data_group["lambda"][0]) / 10\nwavelength_units = "nm"')},
            "check-wavelength", "is in nm"),
    Mistake(NEXUS, {"signal-solution": (
        'data_group = nexus[entry_path + "/data1"]\nsignal_path = data_group.name')},
            "check-signal", "NXdata group; give the signal dataset"),
    Mistake(SEARCH, {"request-solution": (
        'search_filter = {"limit": 10, "query": "temperature beam"}\n'
        'request_url = FEDERATED_API + "/Documents?filter=" + json.dumps(search_filter)\n'
        'documents = recorded_get(request_url)')},
            "check-request", "not URL-encoded"),
    Mistake(SEARCH, {"doi-solution": (
        'doi_links = ["https://doi.org/" + d["doi"] for d in documents]')},
            "check-doi", "blank DOI"),
    Mistake(SEARCH, {"kept-solution": 'kept_pids = [d["pid"] for d in documents]'},
            "check-kept", "keeps every document"),
]
