"""A small PaN catalogue in a real whoosh index under tmp_path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from panlearn.search import Index, SearchDocument, course_doc_id, lesson_doc_id


def make_doc(doc_id: str, **fields: Any) -> SearchDocument:
    """A published lesson of the `sans` course unless told otherwise."""
    defaults: dict[str, Any] = {
        "kind": "lesson",
        "title": "Untitled",
        "url": f"/x/{doc_id}",
        "course_slug": "sans",
        "course_title": "Small-angle neutron scattering",
        "status": "published",
        "organisation_slug": "ill",
        "techniques": ("SANS",),
        "facility": "ILL",
        "level": "beginner",
        "licence": "CC-BY-4.0",
    }
    defaults.update(fields)
    return SearchDocument(doc_id=doc_id, **defaults)


def catalogue() -> list[SearchDocument]:
    """Three courses (two published, one ESRF draft) and their lessons."""
    sans = {"course_slug": "sans", "course_title": "Small-angle neutron scattering"}
    xrd = {
        "course_slug": "xrd",
        "course_title": "Powder diffraction with X-rays",
        "organisation_slug": "esrf",
        "facility": "ESRF",
        "techniques": ("X-ray diffraction", "Powder diffraction"),
        "level": "intermediate",
    }
    draft = {
        "course_slug": "tomo",
        "course_title": "Tomography draft",
        "organisation_slug": "esrf",
        "facility": "ESRF",
        "techniques": ("Tomography",),
        "level": "advanced",
        "status": "draft",
    }
    return [
        make_doc(
            course_doc_id("sans"),
            kind="course",
            title="Small-angle neutron scattering",
            summary="Scattering of neutrons at small angles reveals nanostructures.",
            techniques=("SANS", "Neutron scattering"),
            position=0,
            **sans,
        ),
        make_doc(
            lesson_doc_id(1),
            title="Reading NeXus files with h5py",
            markdown="NeXus stores the measured intensity in an NXdata group. "
            "We read the detector counts and plot them.",
            code="import h5py\n\nwith h5py.File(path) as f:\n"
            "    counts = f['entry/data/counts'][()]\n"
            "    two_theta = f['entry/data/two_theta'][()]",
            lesson_id=1,
            position=1,
            **sans,
        ),
        make_doc(
            lesson_doc_id(2),
            title="Radial averaging",
            markdown="Neutrons scattered by the sample hit the detector. "
            "We average the intensity over rings to obtain I(q). "
            "Guinier analysis then gives the radius of gyration.",
            code="import numpy as np\nq = 4 * np.pi * np.sin(theta) / wavelength",
            lesson_id=2,
            position=2,
            **sans,
        ),
        make_doc(
            course_doc_id("xrd"),
            kind="course",
            title="Powder diffraction with X-rays",
            summary="Bragg's law, peak fitting and Rietveld refinement on ESRF data.",
            position=0,
            **xrd,
        ),
        make_doc(
            lesson_doc_id(3),
            title="Bragg peaks",
            markdown="Each peak in a powder pattern satisfies Bragg's law. "
            "The diffractometer records intensity against 2θ.",
            code="from scipy.signal import find_peaks\npeaks, _ = find_peaks(intensity)",
            lesson_id=3,
            position=1,
            **xrd,
        ),
        make_doc(
            lesson_doc_id(4),
            kind="exercise",
            title="Exercise: index the peaks",
            markdown="Find the lattice parameter from the peak positions. "
            "Small-angle scattering is not needed here.",
            code="def lattice_parameter(two_theta, wavelength):\n    raise NotImplementedError()",
            lesson_id=4,
            position=2,
            **xrd,
        ),
        make_doc(
            course_doc_id("tomo"),
            kind="course",
            title="Tomography draft",
            summary="Filtered back projection of the secret phantom.",
            position=0,
            **draft,
        ),
        make_doc(
            lesson_doc_id(5),
            title="Reconstruction",
            markdown="The sinogram is reconstructed by filtered back projection.",
            code="from skimage.transform import iradon\nrecon = iradon(sinogram)",
            lesson_id=5,
            position=1,
            **draft,
        ),
    ]


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "search"


@pytest.fixture
def index(index_path: Path) -> Index:
    return Index.open_or_create(index_path)


@pytest.fixture
def catalogue_index(index: Index) -> Index:
    index.upsert(catalogue())
    return index


def with_changes(doc: SearchDocument, **changes: Any) -> SearchDocument:
    return replace(doc, **changes)
