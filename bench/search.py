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
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def notebook_seeds() -> list[tuple[str, str]]:
    """Markdown paragraphs and code blocks of the shipped course notebooks."""
    import nbformat

    seeds = []
    for path in sorted(REPO.glob("courses/**/*.ipynb")):
        text = extract_notebook_text(nbformat.read(path, as_version=4))
        seeds.append((text.markdown, text.code))
    return seeds


def corpus(lessons: int, seed: int = 7) -> list[SearchDocument]:
    """Ten lessons per course; one course in ten is a draft."""
    rng = random.Random(seed)
    seeds = notebook_seeds()
    paragraphs = [p for md, _ in seeds for p in md.split("\n\n") if len(p) > 40]
    code_blocks = [c for _, code in seeds for c in code.split("\n\n") if c.strip()]
    docs: list[SearchDocument] = []
    courses = max(1, -(-lessons // 10))
    for c in range(courses):
        slug = f"course-{c}"
        techniques = tuple(rng.sample(TECHNIQUES, rng.choice([1, 1, 2])))
        common = {
            "course_slug": slug,
            "course_title": f"{techniques[0]} course {c}",
            "status": "draft" if c % 10 == 9 else "published",
            "organisation_slug": f"org-{c % len(FACILITIES)}",
            "techniques": techniques,
            "facility": FACILITIES[c % len(FACILITIES)],
            "level": LEVELS[c % len(LEVELS)],
            "licence": "CC-BY-4.0",
        }
        docs.append(
            SearchDocument(
                doc_id=course_doc_id(slug),
                kind="course",
                title=common["course_title"],  # type: ignore[arg-type]
                url=f"/courses/{slug}",
                summary=" ".join(rng.sample(SENTENCES, 3)),
                **common,  # type: ignore[arg-type]
            )
        )
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
            docs.append(
                SearchDocument(
                    doc_id=lesson_doc_id(lesson_id),
                    kind="exercise" if n % 4 == 3 else "lesson",
                    title=f"{rng.choice(topical).split(',')[0][:60]} ({n + 1})",
                    url=f"/courses/{slug}/lessons/{lesson_id}",
                    markdown="\n\n".join(
                        " ".join(prose[i : i + 5]) for i in range(0, len(prose), 5)
                    ),
                    code="\n".join(code),
                    lesson_id=lesson_id,
                    position=n + 1,
                    **common,  # type: ignore[arg-type]
                )
            )
    return docs


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


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 in milliseconds, after one warm-up run."""
    run()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


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
    args = parser.parse_args(argv)

    docs = corpus(args.lessons)
    lessons = sum(1 for doc in docs if doc.kind != "course")
    text_mb = sum(len(d.markdown) + len(d.code) + len(d.summary) for d in docs) / 1e6
    seeds = len(list(REPO.glob("courses/**/*.ipynb")))
    print(
        f"corpus: {lessons} lessons + {len(docs) - lessons} courses, {text_mb:.1f} MB of text"
        f" ({seeds} course notebooks as seed text)"
    )

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="panlearn-bench-"))
    index = Index.open_or_create(workdir / "whoosh")
    start = time.perf_counter()
    index.rebuild(docs)
    whoosh_build = time.perf_counter() - start

    start = time.perf_counter()
    db = fts_build(workdir / "fts5.sqlite", docs)
    fts_build_s = time.perf_counter() - start

    print()
    print(f"{'':24}{'whoosh (panlearn)':>22}{'SQLite FTS5':>22}")
    print(
        f"{'build rate':24}{len(docs) / whoosh_build:>14.0f} docs/s"
        f"{len(docs) / fts_build_s:>14.0f} docs/s"
    )
    print(f"{'build time':24}{whoosh_build:>20.1f} s{fts_build_s:>20.1f} s")
    print(
        f"{'index size':24}{dir_size(workdir / 'whoosh') / 1e6:>19.1f} MB"
        f"{(workdir / 'fts5.sqlite').stat().st_size / 1e6:>19.1f} MB"
    )
    print()
    print(f"{'query (median / p95 ms)':24}{'whoosh':>22}{'FTS5':>22}  whoosh hits")
    viewer = Viewer(role="student")
    for name, params in QUERIES.items():
        q = str(params["q"])
        facets = {k: v for k, v in params.items() if k != "q"}

        def run_whoosh(q: str = q, facets: dict[str, object] = facets) -> object:
            return search(index, q, viewer=viewer, **facets)  # type: ignore[arg-type]

        match, filters = FTS_QUERIES[name]

        def run_fts(match: str | None = match, filters: dict[str, str] = filters) -> None:
            fts_search(db, match, filters)

        w_med, w_p95 = timed(run_whoosh, args.repeat)
        f_med, f_p95 = timed(run_fts, args.repeat)
        total = search(index, q, viewer=viewer, **facets).total  # type: ignore[arg-type]
        print(f"{name:24}{w_med:>12.1f} / {w_p95:>6.1f}{f_med:>13.1f} / {f_p95:>6.1f}  {total:>8}")
    db.close()
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
