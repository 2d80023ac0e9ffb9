"""Search benchmark: whoosh (panlearn.search) beside SQLite FTS5 on the same corpus.

Builds a corpus of lessons from the notebooks under courses/ (their markdown
and code, recombined) topped up with generated photon-and-neutron prose and
code, indexes it with `Index.rebuild`, then times one-term, multi-term,
phrase and faceted queries through `panlearn.search.search` (ranking,
facets, snippets and suggestion included: what the API does per request).
The same corpus and queries run on SQLite FTS5 (porter stemming, bm25,
snippet(), a count and facet GROUP BYs) as a baseline.

Prints figures; asserts nothing. Targets: ≥ 200 lessons/s indexed, median
query < 20 ms.

    .venv/bin/python bench/search.py --lessons 1000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from whoosh.analysis import STOP_WORDS  # noqa: E402

from panlearn.search import (  # noqa: E402
    Index,
    SearchDocument,
    Viewer,
    course_doc_id,
    extract_notebook_text,
    lesson_doc_id,
    search,
)

TECHNIQUES = [
    "SANS",
    "SAXS",
    "X-ray diffraction",
    "Powder diffraction",
    "Neutron imaging",
    "Tomography",
    "XAS",
    "Inelastic neutron scattering",
    "Reflectometry",
    "Crystallography",
]
FACILITIES = ["ESRF", "ILL", "ESS", "European XFEL", "ELETTRA", "CERIC-ERIC", "HZB", "DESY"]
LEVELS = ["beginner", "intermediate", "advanced"]

# Sentences every lesson may use (data handling), and per technique (physics):
# a course on one technique rarely talks about another, as in a real catalogue.
GENERAL = [
    "We subtract the empty-cell background before averaging the image radially.",
    "Normalise the counts by the monitor and by the exposure time.",
    "Metadata in the PaNOSC search API tell us which files belong to a dataset.",
    "Open data from the facility let students repeat a real experiment.",
    "A NeXus file stores the measured signal in an NXdata group with its axes.",
    "Dark-field and flat-field images correct the detector response.",
    "Plot the result on a logarithmic scale and compare it with the model.",
    "Uncertainties follow from Poisson statistics of the detector counts.",
]
TOPICAL = {
    "SANS": [
        "The radius of gyration follows from the slope of the Guinier plot at small q.",
        "Neutrons scatter from nuclei, so light elements such as hydrogen are clearly visible.",
        "Contrast variation with deuterated solvent highlights one component.",
    ],
    "SAXS": [
        "The structure factor describes correlations between particles in solution.",
        "The radius of gyration follows from the slope of the Guinier plot at small q.",
        "Calibrate the sample-to-detector distance with a silver behenate standard.",
    ],
    "X-ray diffraction": [
        "Bragg's law relates the lattice spacing d to the diffraction angle two theta.",
        "The instrument resolution broadens every peak in the powder pattern.",
    ],
    "Powder diffraction": [
        "Rietveld refinement fits the whole diffraction pattern at once.",
        "Peak fitting with a pseudo-Voigt profile gives position, width and area.",
    ],
    "Neutron imaging": [
        "Neutron radiography shows water inside metal parts.",
        "Tomographic reconstruction uses filtered back projection of the sinogram.",
    ],
    "Tomography": [
        "Tomographic reconstruction uses filtered back projection of the sinogram.",
        "Ring artefacts come from defective detector pixels.",
    ],
    "XAS": [
        "The absorption edge shifts with the oxidation state of the absorbing atom.",
        "EXAFS oscillations encode the distances to neighbouring atoms.",
    ],
    "Inelastic neutron scattering": [
        "Inelastic scattering measures energy exchanged with phonons and magnons.",
        "Time-of-flight neutron instruments measure wavelength from arrival time.",
    ],
    "Reflectometry": [
        "Reflectivity curves reveal the thickness and roughness of thin layers.",
        "Kiessig fringes give the layer thickness directly.",
    ],
    "Crystallography": [
        "The unit cell and space group follow from indexing the reflections.",
        "Electron density maps come from phased structure factors.",
    ],
}
SENTENCES = GENERAL + [s for pool in TOPICAL.values() for s in pool]
CODE_LINES = [
    "import h5py",
    "import numpy as np",
    "import matplotlib.pyplot as plt",
    "from scipy.optimize import curve_fit",
    "with h5py.File(data_file) as f:",
    "    signal = f['entry/data/data'][()]",
    "    two_theta = f['entry/data/two_theta'][()]",
    "q = 4 * np.pi * np.sin(np.radians(two_theta) / 2) / wavelength",
    "popt, pcov = curve_fit(guinier, q[mask] ** 2, np.log(intensity[mask]))",
    "radius_of_gyration = np.sqrt(-3 * popt[1])",
    "d_spacing = wavelength / (2 * np.sin(np.radians(two_theta / 2)))",
    "plt.semilogy(q, intensity, label='sample')",
    "image = (raw - dark) / (flat - dark)",
    "sinogram = np.stack([projection(angle) for angle in angles])",
    "peaks, props = find_peaks(intensity, prominence=0.1)",
    "nxdata = entry.create_group('NXdata')",
    "background = np.median(empty_cell, axis=0)",
    "counts_per_monitor = counts / monitor",
]


def notebook_paths() -> list[Path]:
    """The course notebooks the corpus is seeded from: those committed to git.

    Only tracked files, so that the corpus (and so the figures) is the same
    for everyone at a given commit, whatever is lying around in a checkout;
    outside a git checkout, every notebook under courses/.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "courses/*.ipynb"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        paths = [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = list(REPO.glob("courses/**/*.ipynb"))
    return sorted(path for path in paths if path.is_file())


def notebook_seeds() -> list[tuple[str, str]]:
    """Markdown paragraphs and code blocks of the shipped course notebooks."""
    import nbformat

    seeds = []
    for path in notebook_paths():
        text = extract_notebook_text(nbformat.read(path, as_version=4))
        seeds.append((text.markdown, text.code))
    return seeds


def corpus(lessons: int, seed: int = 7, kind: str = "catalogue") -> list[SearchDocument]:
    """Ten lessons per course; one course in ten is a draft."""
    if kind == "repetitive":
        return repetitive_corpus(lessons, seed)
    return catalogue_corpus(lessons, seed)


def repetitive_corpus(lessons: int, seed: int = 7) -> list[SearchDocument]:
    """The first bench corpus: every lesson drawn from the same few sentences and code lines.

    About 60 distinct sentences and 18 code lines shared by the whole corpus,
    so nearly every lesson contains nearly every common word: a multi-word
    query matches most of the corpus. Harsher than a real catalogue; kept to
    show the cost when queries are unselective (`--corpus repetitive`).
    """
    rng = random.Random(seed)
    seeds = notebook_seeds()
    paragraphs = [p for md, _ in seeds for p in md.split("\n\n") if len(p) > 40]
    code_blocks = [c for _, code in seeds for c in code.split("\n\n") if c.strip()]
    docs: list[SearchDocument] = []
    courses = max(1, -(-lessons // 10))
    for c in range(courses):
        slug = f"course-{c}"
        techniques = tuple(rng.sample(TECHNIQUES, rng.choice([1, 1, 2])))
        common = _course_common(c, slug, techniques, f"{techniques[0]} course {c}")
        docs.append(_course_doc(common, " ".join(rng.sample(SENTENCES, 3))))
        for n in range(min(10, lessons - 10 * c)):
            lesson_id = len(docs)
            topical = [s for t in techniques for s in TOPICAL[t]]
            prose = [
                rng.choice(topical if rng.random() < 0.4 else GENERAL)
                for _ in range(rng.randint(25, 45))
            ]
            if paragraphs:
                prose[::6] = [rng.choice(paragraphs) for _ in prose[::6]]
            code = [rng.choice(CODE_LINES) for _ in range(rng.randint(15, 40))]
            if code_blocks:
                code.append(rng.choice(code_blocks))
            title = f"{rng.choice(topical).split(',')[0][:60]} ({n + 1})"
            docs.append(_lesson_doc(common, lesson_id, n, title, prose, code))
    return docs


# -- a catalogue-like corpus --------------------------------------------------------
#
# A real catalogue differs from `repetitive_corpus` in two ways that matter
# for search cost: a course about one technique rarely uses another's words or
# code, and every course and lesson brings names of its own (samples,
# instruments, people, materials) that appear nowhere else. So:
#
# * each lesson's prose is, sentence by sentence: 35 % the course techniques'
#   sentences (TOPICAL), 15 % data-handling sentences (GENERAL, ~25 of them),
#   1 in 6 a paragraph of the shipped notebooks, and the rest sentences built
#   from templates (TEMPLATES) whose blanks are filled with the course's and
#   the lesson's own names and with words drawn, Zipf-weighted, from the
#   vocabulary of all the text above;
# * code is the common lines (imports, reading NeXus files, plotting), the
#   course techniques' lines (CODE_TOPICAL), a block of the shipped notebooks
#   and a few lines naming the lesson's own variables;
# * names are pronounceable made-up words (`kelvarite`, `Dromund`), so they
#   are distinct from each other and from English words.
#
# Lessons hold as much text as in `repetitive_corpus` (28-50 sentences, as
# template sentences are shorter, and 18-43 code lines): the indexing cost
# per lesson is not made smaller by the realism.
# The bench prints how many documents each query matches.

GENERAL_MORE = [
    "Check the units of every axis before you combine two datasets.",
    "The raw frames are stored in chunks so that a single frame reads quickly.",
    "A mask removes the beamstop shadow and the gaps between detector modules.",
    "Write the reduced curve to a new file and keep the raw data untouched.",
    "The sample environment log records temperature and pressure every second.",
    "An attenuator protects the detector when the direct beam is too strong.",
    "Compare the fit residuals with the error bars to judge the model.",
    "A beamtime proposal states the scientific question and the samples to measure.",
    "The electronic logbook keeps notes that the data files do not.",
    "Rebinning trades resolution for better statistics in each point.",
    "Dead time corrections matter when the count rate is high.",
    "The DOI of the dataset lets others cite the measurement.",
    "Transmission is measured with the direct beam through the sample.",
    "Calibration runs are taken at the start of every experiment.",
    "Parallel reduction of many files speeds up a large scan.",
    "A least-squares fit returns the parameters and their covariance.",
]
TOPICAL_MORE = {
    "SANS": [
        "Deuterated lipids make the membrane visible against the solvent.",
        "The Porod region at high q reveals the specific surface of the particles.",
    ],
    "SAXS": [
        "Anomalous SAXS near an absorption edge separates the contribution of one element.",
        "Time-resolved SAXS follows the self-assembly of micelles after mixing.",
    ],
    "X-ray diffraction": [
        "Texture shows up as uneven intensity around each Debye-Scherrer ring.",
        "Strain shifts the peak positions in proportion to the lattice change.",
    ],
    "Powder diffraction": [
        "A LaB6 standard fixes the instrument profile before refinement.",
        "Phase fractions follow from the refined scale factors.",
    ],
    "Neutron imaging": [
        "Energy-selective imaging maps Bragg edges across a welded sample.",
        "A scintillator converts neutrons to light for the camera.",
    ],
    "Tomography": [
        "Phase retrieval sharpens the edges of weakly absorbing features.",
        "The centre of rotation must be found before reconstruction.",
    ],
    "XAS": [
        "XANES fingerprints the coordination of the absorber.",
        "Fluorescence detection suits dilute samples better than transmission.",
    ],
    "Inelastic neutron scattering": [
        "The dispersion of spin waves follows from constant-energy cuts.",
        "Detailed balance relates energy gain and energy loss spectra.",
    ],
    "Reflectometry": [
        "Polarised neutron reflectometry gives the magnetic profile of a multilayer.",
        "The critical edge fixes the scattering length density of the substrate.",
    ],
    "Crystallography": [
        "Anisotropic displacement parameters describe thermal motion of each atom.",
        "Twinning complicates the integration of overlapping reflections.",
    ],
}
CODE_COMMON = [
    "import h5py",
    "import numpy as np",
    "import matplotlib.pyplot as plt",
    "with h5py.File(data_file) as f:",
    "    signal = f['entry/data/data'][()]",
    "nxdata = entry.create_group('NXdata')",
    "fig, ax = plt.subplots()",
    "ax.set_xlabel(x_label)",
    "counts_per_monitor = counts / monitor",
    "errors = np.sqrt(counts) / monitor",
]
CODE_TOPICAL = {
    "SANS": [
        "from scipy.optimize import curve_fit",
        "popt, pcov = curve_fit(guinier, q[mask] ** 2, np.log(intensity[mask]))",
        "radius_of_gyration = np.sqrt(-3 * popt[1])",
        "background = np.median(empty_cell, axis=0)",
        "plt.semilogy(q, intensity, label='sample')",
    ],
    "SAXS": [
        "from scipy.optimize import curve_fit",
        "q = 4 * np.pi * np.sin(np.radians(two_theta) / 2) / wavelength",
        "radius_of_gyration = np.sqrt(-3 * popt[1])",
        "plt.loglog(q, intensity)",
    ],
    "X-ray diffraction": [
        "two_theta = f['entry/data/two_theta'][()]",
        "d_spacing = wavelength / (2 * np.sin(np.radians(two_theta / 2)))",
        "peaks, props = find_peaks(intensity, prominence=0.1)",
    ],
    "Powder diffraction": [
        "two_theta = f['entry/data/two_theta'][()]",
        "peaks, props = find_peaks(intensity, prominence=0.1)",
        "profile = pseudo_voigt(two_theta, centre, fwhm, eta)",
    ],
    "Neutron imaging": [
        "image = (raw - dark) / (flat - dark)",
        "transmission = np.clip(image, 1e-3, None)",
    ],
    "Tomography": [
        "image = (raw - dark) / (flat - dark)",
        "sinogram = np.stack([projection(angle) for angle in angles])",
        "recon = iradon(sinogram, theta=angles)",
    ],
    "XAS": [
        "mu = np.log(i0 / it)",
        "edge_energy = energy[np.argmax(np.gradient(mu))]",
    ],
    "Inelastic neutron scattering": [
        "energy_transfer = incident_energy - final_energy",
        "s_qw = np.histogram2d(q, energy_transfer, weights=counts)",
    ],
    "Reflectometry": [
        "reflectivity = counts / direct_beam",
        "qz = 4 * np.pi * np.sin(np.radians(theta)) / wavelength",
    ],
    "Crystallography": [
        "hkl = np.array(reflection_indices)",
        "f_obs = np.sqrt(intensities)",
    ],
}
TEMPLATES = [
    "The {sample} sample was measured on {instrument} at {number} K.",
    "{person} and {person2} first studied {sample} with {word}.",
    "Here the {word} of {sample} changes with {word2}.",
    "We load the {sample} run from {instrument} and look at the {word}.",
    "Compared with {sample2}, {sample} shows a different {word}.",
    "The {material} substrate carries a {sample} film.",
    "{instrument} records the {word} of {sample} in {number} frames.",
    "A question for you: why does {word} depend on {word2} for {sample}?",
    "The {word} and the {word2} are shown for {sample} and {sample2}.",
    "{person} proposed to describe {word} of {material} by a simple model.",
]
_SYLLABLES = [
    "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "xe", "zu", "bra", "dre", "fli",
    "gro", "pla", "stu", "tri", "kel", "var", "mon", "dun", "rex", "pol", "sil",
]  # fmt: skip
_SUFFIXES = ["ite", "ium", "ane", "ol", "ide", "ene", "ate", "on"]


def _name(rng: random.Random, parts: int, suffix: str = "") -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)) + suffix


def catalogue_corpus(lessons: int, seed: int = 7) -> list[SearchDocument]:
    """Lessons whose vocabulary varies by course and lesson, as a real catalogue's does."""
    rng = random.Random(seed)
    seeds = notebook_seeds()
    paragraphs = [p for md, _ in seeds for p in md.split("\n\n") if len(p) > 40]
    code_blocks = [c for _, code in seeds for c in code.split("\n\n") if c.strip()]
    general = GENERAL + GENERAL_MORE
    topical_pool = {t: TOPICAL[t] + TOPICAL_MORE[t] for t in TECHNIQUES}
    # Zipf-weighted vocabulary of all the seed text, for the templates' blanks.
    counts: dict[str, int] = {}
    for text in [*general, *SENTENCES, *paragraphs, *(s for p in TOPICAL_MORE.values() for s in p)]:
        for word in re.findall(r"[a-z]{4,}", text.lower()):
            if word not in STOP_WORDS:
                counts[word] = counts.get(word, 0) + 1
    vocabulary = sorted(counts, key=lambda w: (-counts[w], w))
    weights = [1 / rank for rank in range(1, len(vocabulary) + 1)]
    instruments = [f"{rng.choice('DIBPV')}{rng.randint(1, 40)}" for _ in range(60)]
    materials = [_name(rng, 2, rng.choice(_SUFFIXES)) for _ in range(300)]

    docs: list[SearchDocument] = []
    courses = max(1, -(-lessons // 10))
    for c in range(courses):
        slug = f"course-{c}"
        techniques = tuple(rng.sample(TECHNIQUES, rng.choice([1, 1, 2])))
        # The course's own names: its samples, its instrument, its people.
        course_samples = [_name(rng, rng.randint(2, 3), rng.choice(_SUFFIXES)) for _ in range(6)]
        course_people = [_name(rng, 2).capitalize() for _ in range(3)]
        instrument = rng.choice(instruments)
        title = f"{techniques[0]}: {course_samples[0]} and {rng.choice(vocabulary[:300])}"
        common = _course_common(c, slug, techniques, title)
        topical = [s for t in techniques for s in topical_pool[t]]
        summary = " ".join([rng.choice(topical), rng.choice(general), rng.choice(topical)])
        docs.append(_course_doc(common, summary))
        for n in range(min(10, lessons - 10 * c)):
            lesson_id = len(docs)
            samples = course_samples + [_name(rng, 3, rng.choice(_SUFFIXES)) for _ in range(2)]

            def fill(
                template: str,
                samples: list[str] = samples,
                course_people: list[str] = course_people,
                instrument: str = instrument,
            ) -> str:
                words = rng.choices(vocabulary, weights, k=2)
                return template.format(
                    sample=rng.choice(samples),
                    sample2=rng.choice(samples),
                    person=rng.choice(course_people),
                    person2=_name(rng, 2).capitalize(),
                    instrument=rng.choice([instrument, rng.choice(instruments)]),
                    material=rng.choice(materials),
                    word=words[0],
                    word2=words[1],
                    number=rng.randint(2, 400),
                )

            prose = []
            for _ in range(rng.randint(28, 50)):
                draw = rng.random()
                if draw < 0.35:
                    prose.append(rng.choice(topical))
                elif draw < 0.5:
                    prose.append(rng.choice(general))
                else:
                    prose.append(fill(rng.choice(TEMPLATES)))
            if paragraphs:
                prose[::6] = [rng.choice(paragraphs) for _ in prose[::6]]
            code_pool = CODE_COMMON + [line for t in techniques for line in CODE_TOPICAL[t]]
            code = [rng.choice(code_pool) for _ in range(rng.randint(15, 40))]
            code += [
                f"{sample}_{rng.choice(['counts', 'signal', 'fit', 'mask'])} = "
                f"load_run('{rng.choice(samples)}', {rng.randint(1000, 99999)})"
                for sample in rng.sample(samples, 3)
            ]
            if code_blocks:
                code.append(rng.choice(code_blocks))
            title = f"{rng.choice(topical).split(',')[0][:50]}: {rng.choice(samples)} ({n + 1})"
            docs.append(_lesson_doc(common, lesson_id, n, title, prose, code))
    return docs


def _course_common(
    c: int, slug: str, techniques: tuple[str, ...], title: str
) -> dict[str, object]:
    return {
        "course_slug": slug,
        "course_title": title,
        "status": "draft" if c % 10 == 9 else "published",
        "organisation_slug": f"org-{c % len(FACILITIES)}",
        "techniques": techniques,
        "facility": FACILITIES[c % len(FACILITIES)],
        "level": LEVELS[c % len(LEVELS)],
        "licence": "CC-BY-4.0",
    }


def _course_doc(common: dict[str, object], summary: str) -> SearchDocument:
    slug = str(common["course_slug"])
    return SearchDocument(
        doc_id=course_doc_id(slug),
        kind="course",
        title=str(common["course_title"]),
        url=f"/courses/{slug}",
        summary=summary,
        **common,  # type: ignore[arg-type]
    )


def _lesson_doc(
    common: dict[str, object], lesson_id: int, n: int, title: str, prose: list[str], code: list[str]
) -> SearchDocument:
    return SearchDocument(
        doc_id=lesson_doc_id(lesson_id),
        kind="exercise" if n % 4 == 3 else "lesson",
        title=title,
        url=f"/courses/{common['course_slug']}/lessons/{lesson_id}",
        markdown="\n\n".join(" ".join(prose[i : i + 5]) for i in range(0, len(prose), 5)),
        code="\n".join(code),
        lesson_id=lesson_id,
        position=n + 1,
        **common,  # type: ignore[arg-type]
    )


QUERIES: dict[str, dict[str, object]] = {
    "one-term": {"q": "diffraction"},
    "multi-term": {"q": "detector background radius"},
    "phrase": {"q": '"radius of gyration"'},
    "faceted": {"q": "intensity", "technique": "SANS", "level": "beginner"},
    "browse (empty q)": {"q": ""},
}
FTS_QUERIES: dict[str, tuple[str | None, dict[str, str]]] = {
    "one-term": ("diffraction", {}),
    "multi-term": ("detector background radius", {}),
    "phrase": ('"radius of gyration"', {}),
    "faceted": ("intensity", {"technique": "SANS", "level": "beginner"}),
    "browse (empty q)": (None, {}),
}


@dataclass(frozen=True)
class Timing:
    """Wall-clock median and p95, and the median CPU time this process spent, in ms.

    The machine is shared: a wall-clock time well above its CPU time means
    the query waited for a core, not that it did more work.
    """

    median: float
    p95: float
    cpu_median: float


def timed(run: Callable[[], object], repeat: int) -> Timing:
    """Time `repeat` runs after one warm-up run."""
    run()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    wall.sort()
    p95 = wall[min(len(wall) - 1, int(0.95 * len(wall)))]
    return Timing(statistics.median(wall), p95, statistics.median(cpu))


def load() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them."""
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_line(name: str, value: float, unit: str, **extra: object) -> str:
    """One figure for `python -m bench` (see bench/__main__.py), printed after the table."""
    return "BENCH " + json.dumps(
        {"name": f"search: {name}", "value": round(value, 3), "unit": unit, **extra}
    )


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- SQLite FTS5 baseline ---------------------------------------------------------


def fts_build(path: Path, docs: list[SearchDocument]) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE VIRTUAL TABLE doc USING fts5(
            title, summary, markdown, code,
            doc_id UNINDEXED, kind UNINDEXED, facility UNINDEXED, level UNINDEXED,
            status UNINDEXED, organisation_slug UNINDEXED,
            tokenize = 'porter unicode61');
        CREATE TABLE doc_technique (docid INTEGER, technique TEXT);
        CREATE INDEX doc_technique_t ON doc_technique (technique, docid);
        """
    )
    with db:
        for rowid, doc in enumerate(docs, start=1):
            db.execute(
                "INSERT INTO doc (rowid, title, summary, markdown, code, doc_id, kind, facility,"
                " level, status, organisation_slug) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rowid,
                    doc.title,
                    doc.summary,
                    doc.markdown,
                    doc.code,
                    doc.doc_id,
                    doc.kind,
                    doc.facility,
                    doc.level,
                    doc.status,
                    doc.organisation_slug,
                ),
            )
            db.executemany(
                "INSERT INTO doc_technique VALUES (?, ?)", [(rowid, t) for t in doc.techniques]
            )
    return db


def fts_search(db: sqlite3.Connection, match: str | None, filters: dict[str, str]) -> None:
    """Top 10 with snippets, the total, and four facet counts: what `search` returns."""
    where = ["status = 'published'"]
    args: list[object] = []
    if match:
        where.append("doc MATCH ?")
        args.append(match)
    if "level" in filters:
        where.append("level = ?")
        args.append(filters["level"])
    if "technique" in filters:
        where.append("rowid IN (SELECT docid FROM doc_technique WHERE technique = ?)")
        args.append(filters["technique"])
    clause = " AND ".join(where)
    order = "bm25(doc, 6.0, 2.0, 1.0, 1.0)" if match else "kind, title"
    snippet = "snippet(doc, 2, '<mark>', '</mark>', ' … ', 24)" if match else "summary"
    db.execute(
        f"SELECT doc_id, title, {snippet} FROM doc WHERE {clause} ORDER BY {order} LIMIT 10",
        args,
    ).fetchall()
    db.execute(f"SELECT count(*) FROM doc WHERE {clause}", args).fetchall()
    for column in ("kind", "facility", "level"):
        db.execute(
            f"SELECT {column}, count(*) FROM doc WHERE {clause} GROUP BY {column}", args
        ).fetchall()
    db.execute(
        "SELECT technique, count(*) FROM doc_technique WHERE docid IN "
        f"(SELECT rowid FROM doc WHERE {clause}) GROUP BY technique",
        args,
    ).fetchall()


# -- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=10_000, help="corpus size (lessons)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per query")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument(
        "--corpus",
        choices=("catalogue", "repetitive"),
        default="catalogue",
        help="catalogue-like vocabulary (default) or the first, repetitive corpus",
    )
    args = parser.parse_args(argv)

    print(f"load average at start: {load()}")
    docs = corpus(args.lessons, kind=args.corpus)
    lessons = sum(1 for doc in docs if doc.kind != "course")
    text_mb = sum(len(d.markdown) + len(d.code) + len(d.summary) for d in docs) / 1e6
    seeds = len(notebook_paths())
    print(
        f"corpus ({args.corpus}): {lessons} lessons + {len(docs) - lessons} courses,"
        f" {text_mb:.1f} MB of text ({seeds} course notebooks as seed text)"
    )

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="panlearn-bench-"))
    load_before_build = load()
    index = Index.open_or_create(workdir / "whoosh")
    start, start_cpu = time.perf_counter(), time.process_time()
    index.rebuild(docs)
    whoosh_build = time.perf_counter() - start
    whoosh_build_cpu = time.process_time() - start_cpu

    start = time.perf_counter()
    db = fts_build(workdir / "fts5.sqlite", docs)
    fts_build_s = time.perf_counter() - start

    whoosh_mb = dir_size(workdir / "whoosh") / 1e6
    fts_mb = (workdir / "fts5.sqlite").stat().st_size / 1e6
    print()
    print(f"{'':24}{'whoosh (panlearn)':>22}{'SQLite FTS5':>22}")
    print(
        f"{'build rate':24}{len(docs) / whoosh_build:>14.0f} docs/s"
        f"{len(docs) / fts_build_s:>14.0f} docs/s"
    )
    print(f"{'build time':24}{whoosh_build:>20.1f} s{fts_build_s:>20.1f} s")
    print(
        f"{'build CPU time':24}{whoosh_build_cpu:>20.1f} s   ({len(docs) / whoosh_build_cpu:.0f}"
        f" docs per CPU-second; load before {load_before_build})"
    )
    print(f"{'index size':24}{whoosh_mb:>19.1f} MB{fts_mb:>19.1f} MB")
    figures = [
        bench_line(
            "index build rate", len(docs) / whoosh_build, "docs/s", target=">= 200",
            baseline=f"FTS5 {len(docs) / fts_build_s:.0f} docs/s",
            ratio=fts_build_s / whoosh_build,
            cpu=f"{len(docs) / whoosh_build_cpu:.0f} docs per CPU-second",
            load=load_before_build,
        ),
        bench_line("index size", whoosh_mb, "MB", baseline=f"FTS5 {fts_mb:.1f} MB",
                   ratio=fts_mb / whoosh_mb if whoosh_mb else None),
    ]
    print()
    print(
        f"{'query (median / p95 ms)':24}{'whoosh':>22}{'FTS5':>22}  whoosh hits"
        "   whoosh CPU median  load"
    )
    viewer = Viewer(role="student")
    for name, params in QUERIES.items():
        q = str(params["q"])
        facets = {k: v for k, v in params.items() if k != "q"}

        def run_whoosh(q: str = q, facets: dict[str, object] = facets) -> object:
            return search(index, q, viewer=viewer, **facets)  # type: ignore[arg-type]

        match, filters = FTS_QUERIES[name]

        def run_fts(match: str | None = match, filters: dict[str, str] = filters) -> None:
            fts_search(db, match, filters)

        load_now = load()
        ours = timed(run_whoosh, args.repeat)
        fts = timed(run_fts, args.repeat)
        total = search(index, q, viewer=viewer, **facets).total  # type: ignore[arg-type]
        print(
            f"{name:24}{ours.median:>12.1f} / {ours.p95:>6.1f}{fts.median:>13.1f} / {fts.p95:>6.1f}"
            f"  {total:>8}   {ours.cpu_median:>11.1f} ms CPU  {load_now}"
        )
        figures.append(bench_line(
            f"query '{name}', median", ours.median, "ms", target="< 20",
            baseline=f"FTS5 {fts.median:.1f} ms (p95 {fts.p95:.1f})",
            ratio=fts.median / ours.median if ours.median else None,
            p95=round(ours.p95, 3), cpu_median=round(ours.cpu_median, 3), hits=total,
            load=load_now))
    db.close()
    print(f"load average at end:   {load()}")
    print()
    print("\n".join(figures))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)

if __name__ == "__main__":
    main()
