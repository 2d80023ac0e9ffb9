"""Bulk posting lists: how segments are written, and a numpy copy queries read.

whoosh's `SegmentWriter` handles every posting several times in Python: a
tuple into a sorting pool (spilled to disk and merged when large), a sort of
all of them, then one `add_posting` call each with a field-length lookup.
For 10,000 lessons (5 million postings) that was most of a rebuild.
`BulkSegmentWriter` instead inverts documents in memory, term by term, and
hands whoosh's postings writer whole blocks: the segment files are the ones
whoosh writes (tests compare them posting by posting).

Beside each segment it also writes a *postings file* (`<segment>.pnl`):
every posting list as flat numpy arrays (document numbers, weights and, for
positional fields, positions). Reading a term from whoosh's blocks unpickles
the positions of every posting even when only document numbers are wanted;
`SegmentPostings` memory-maps the file and returns arrays without decoding
anything, which is what lets `docsets` and `scoring` compute totals, facets,
BM25F scores and phrase matches over whole posting lists. The file is named after its
segment, so whoosh deletes it with the segment when segments merge.
"""

from __future__ import annotations

import pickle
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.fields import FieldType
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

# Extension of a segment's postings file (whoosh segment files are
# `<indexname>_<segid>.<ext>`, which is what its clean-up matches).
POSTINGS_EXT = ".pnl"
_MAGIC = b"PNLPOST1"
_TRAILER = struct.Struct("<Q8s")  # directory offset, magic
_ALIGN = 8
# Posting blocks shorter than this are written uncompressed.
MIN_COMPRESSED = 8
# Terms with fewer postings than this keep them in the term table (whoosh's
# "inlining", off by default) instead of a block of their own in the postings
# file: most terms of a catalogue (names, rare words) occur in a few documents.
INLINE_POSTINGS = 8

# One posting as a field's `postings()` yields it: term, frequency, weight,
# whoosh's encoded value, and positions (None for fields without positions).
Posting = tuple[bytes, int, float, bytes, "list[int] | None"]


# -- collecting postings --------------------------------------------------------


class _TermPostings:
    """One term's postings in a segment being written, in document order.

    A 10,000-lesson rebuild holds about 4 million postings at once: lists
    of shared objects (a document's number, small counts, the fields' interned
    weights), and positions, the one per-posting number that is not shared,
    in a typed array (4 bytes each rather than a Python int each).
    """

    __slots__ = ("counts", "docs", "positions", "values", "weights")

    def __init__(self, positional: bool) -> None:
        self.docs: list[int] = []
        self.weights: list[float] = []
        self.values: list[bytes] = []
        # Positions of every posting, concatenated; `counts` says how many each.
        self.positions = array("I") if positional else None
        self.counts: list[int] | None = [] if positional else None


class InvertedPool:
    """Postings grouped by field and term as documents arrive; no sorting, no spilling.

    Stands in for whoosh's `PostingPool` (same `add`), so merging older
    segments into a new one goes through here too. Memory grows with the
    segment, about 90 bytes per posting: a rebuild of 10,000 lessons (5.6
    million postings) peaks about 500 MB above the documents themselves.
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.fields: dict[str, dict[bytes, _TermPostings]] = {}
        # Postings from `add` (merged segments) may arrive out of document order.
        self._maybe_unsorted = False
        self._sorted: list[tuple[str, list[tuple[bytes, _TermPostings]]]] | None = None
        self._positional = {
            name: field.format is not None and field.format.supports("positions")
            for name, field in schema.items()
        }

    def add_field(self, fieldname: str, field: FieldType, docnum: int, value: Any) -> int:
        """Index one field of one document; returns its length (0 when not scorable)."""
        terms = self.fields.setdefault(fieldname, {})
        positional = self._positional[fieldname]
        length = 0
        for tbytes, freq, weight, vbytes, positions in _field_postings(field, value):
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = _TermPostings(positional)
            entry.docs.append(docnum)
            entry.weights.append(weight)
            entry.values.append(vbytes)
            if entry.positions is not None:
                if positions is None:
                    positions = field.format.decode_positions(vbytes)
                entry.positions.extend(positions)
                entry.counts.append(len(positions))  # type: ignore[union-attr]
            length += freq
        return length if field.scorable else 0

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """Whoosh's pool interface: one `(fieldname, term, docnum, weight, value)` posting."""
        fieldname, tbytes, docnum, weight, vbytes = item
        if docnum < 0:  # whoosh's marker for spelling-graph words; this schema has none
            return
        self._maybe_unsorted = True
        terms = self.fields.setdefault(fieldname, {})
        entry = terms.get(tbytes)
        if entry is None:
            entry = terms[tbytes] = _TermPostings(self._positional.get(fieldname, False))
        entry.docs.append(docnum)
        entry.weights.append(weight)
        entry.values.append(vbytes or b"")
        if entry.positions is not None:
            positions = self.schema[fieldname].format.decode_positions(vbytes) if vbytes else []
            entry.positions.extend(positions)
            entry.counts.append(len(positions))  # type: ignore[union-attr]

    def sorted_terms(self) -> list[tuple[str, list[tuple[bytes, _TermPostings]]]]:
        """Fields and their terms in whoosh's order (field name, then term bytes)."""
        if self._sorted is None:
            if self._maybe_unsorted:
                for terms in self.fields.values():
                    for entry in terms.values():
                        _sort_by_doc(entry)
            self._sorted = [
                (fieldname, sorted(self.fields[fieldname].items()))
                for fieldname in sorted(self.fields)
                if self.fields[fieldname]
            ]
        return self._sorted

    def cleanup(self) -> None:
        """Nothing on disk to remove (whoosh's pool interface)."""


def _field_postings(field: FieldType, value: Any) -> Iterable[Posting]:
    postings = getattr(field, "postings", None)
    if postings is not None:
        return postings(value)  # type: ignore[no-any-return]
    # float(): whoosh's add_document multiplies every weight by a float boost.
    return ((t, freq, float(weight), v or b"", None) for t, freq, weight, v in field.index(value))


def _sort_by_doc(entry: _TermPostings) -> None:
    """Put postings in document order (they only arrive out of it when merging)."""
    docs = entry.docs
    if all(a < b for a, b in zip(docs, docs[1:], strict=False)):
        return
    order = sorted(range(len(docs)), key=docs.__getitem__)
    entry.docs = [docs[i] for i in order]
    entry.weights = [entry.weights[i] for i in order]
    entry.values = [entry.values[i] for i in order]
    if entry.counts is not None and entry.positions is not None:
        starts = [0, *np.cumsum(entry.counts).tolist()]
        positions = entry.positions
        entry.positions = array(
            "I", (p for i in order for p in positions[starts[i] : starts[i + 1]])
        )
        entry.counts = [entry.counts[i] for i in order]


# -- the writer -------------------------------------------------------------------


class BulkSegmentWriter(SegmentWriter):
    """A whoosh `SegmentWriter` that inverts in memory and writes postings a block at a time."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool: InvertedPool = InvertedPool(self.schema)  # type: ignore[assignment]

    def add_document(self, **fields: Any) -> None:
        """Add a document, as whoosh's `add_document` does for this schema's fields.

        Per-field boosts and custom stored values (`_boost`, `_stored_x`) are
        left to whoosh's own method, whose postings arrive through `pool.add`.
        """
        if any(name.startswith("_") for name in fields):
            super().add_document(**fields)
            return
        self._check_state()
        schema = self.schema
        names = sorted(fields)
        self._check_fields(schema, names)
        perdoc = self.perdocwriter
        perdoc.start_doc(self.docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                if field.separate_spelling() or field.vector:
                    raise NotImplementedError(f"field {name!r}: spelling graphs and vectors")
                length = 0
                if field.indexed:
                    length = self.pool.add_field(name, field, self.docnum, value)
                perdoc.add_field(name, field, value if field.stored else None, length)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = _field_lengths(self.per_document_reader(), self.schema)
        _write_blocks(self.fieldwriter, self.schema, self.pool, lengths)
        self.fieldwriter.close()

    def _finalize_segment(self) -> Any:
        segment = super()._finalize_segment()
        # After whoosh has assembled its compound file, so this one stays
        # outside it and can be memory-mapped.
        with self.storage.create_file(segment.make_filename(POSTINGS_EXT)) as out:
            write_postings_file(out, self.pool)
        self.pool = InvertedPool(self.schema)
        return segment


def _field_lengths(reader: Any, schema: Any) -> dict[str, list[int]]:
    """Each scorable field's per-document lengths as whoosh stored them (quantised)."""
    lengths: dict[str, list[int]] = {}
    try:
        for name, field in schema.items():
            column = f"_{name}_len"  # whoosh.codec.whoosh3._lenfield
            if field.scorable and reader.has_column(column):
                column_reader = reader.column_reader(column, LENGTHS_COLUMN)
                lengths[name] = [byte_to_length(byte) if byte else 0 for byte in column_reader]
    finally:
        reader.close()
    return lengths


def _write_blocks(
    fieldwriter: Any, schema: Any, pool: InvertedPool, lengths: dict[str, list[int]]
) -> None:
    """Write every posting list through whoosh's writers, handing over whole blocks.

    Fills the postings writer's block buffer as `add_posting` would, one
    block at a time: the same blocks, block statistics and term infos.
    """
    for fieldname, terms in pool.sorted_terms():
        fieldwriter.start_field(fieldname, schema[fieldname])
        field_lengths = lengths.get(fieldname)
        postwriter = fieldwriter._postwriter
        limit = postwriter._blocklimit
        compression = postwriter._compression
        for tbytes, entry in terms:
            fieldwriter.start_term(tbytes)
            count = len(entry.docs)
            if count < INLINE_POSTINGS:
                _fill_block(postwriter, entry, 0, count, field_lengths)
                _finish_inlined_term(fieldwriter, tbytes)
                continue
            for start in range(0, count, limit):
                end = min(count, start + limit)
                _fill_block(postwriter, entry, start, end, field_lengths)
                # zlib costs ~25 us a call to set up: only worth it on longer blocks
                # (the block header records the level, so readers handle both).
                postwriter._compression = compression if end - start >= MIN_COMPRESSED else 0
                if end < count:  # the last block is written by finish_term
                    postwriter._write_block()
            fieldwriter.finish_term()
        fieldwriter.finish_field()


def _finish_inlined_term(fieldwriter: Any, tbytes: bytes) -> None:
    """`fieldwriter.finish_term()` for a term whose postings go in the term table.

    whoosh's own path to this (`inlinelimit` above 1) calls a method its term
    info lacks (`set_inline`, not `set_inlined`); reading inlined postings works.
    """
    postwriter = fieldwriter._postwriter
    terminfo = postwriter._terminfo
    terminfo.add_block(postwriter)
    terminfo.set_inlined(postwriter._ids, postwriter._weights, postwriter._values)
    postwriter._terminfo = None
    fieldwriter._tindex.add(pack_ushort(fieldwriter._fieldid) + tbytes, terminfo.to_bytes())


def _fill_block(
    postwriter: Any, entry: _TermPostings, start: int, end: int, lengths: list[int] | None
) -> None:
    docs = entry.docs[start:end]
    weights = entry.weights[start:end]
    postwriter._ids = array("I", docs)
    postwriter._weights = array("f", weights)
    postwriter._values = [value for value in entry.values[start:end] if value]
    postwriter._maxweight = max(0, max(weights))
    known = [length for length in (lengths[d] for d in docs) if length] if lengths else []
    postwriter._minlength = min(known) if known else None
    postwriter._maxlength = max(known) if known else 0


# -- the postings file ------------------------------------------------------------
#
# Layout: 8-byte-aligned arrays, then a pickled directory, then a trailer
# (directory offset, magic). Per field: `starts` (int64, one per term plus
# one: where each term's postings begin), `ids` (document numbers in the
# segment), `weights` (float32, as whoosh's blocks store them) and, for
# positional fields, `pstarts` (where each posting's positions begin) and
# `positions`; unsigned integers as narrow as their largest value allows.
# The term table ({term bytes: term number}) is pickled per field so a query
# only loads the fields it uses. Fields whose type sets
# `in_postings_file = False` are left out (read through whoosh).


def write_postings_file(out: BinaryIO, pool: InvertedPool) -> None:
    """Write the pool's posting lists as flat arrays (see the layout above)."""
    directory: dict[str, dict[str, Any]] = {}
    offset = 0

    def put(data: bytes) -> tuple[int, int]:
        nonlocal offset
        start = offset
        out.write(data)
        offset += len(data)
        padding = -offset % _ALIGN
        out.write(b"\0" * padding)
        offset += padding
        return start, len(data)

    def put_array(values: np.ndarray) -> tuple[int, int, str]:
        start, _ = put(values.tobytes())
        return start, len(values), values.dtype.str

    for fieldname, terms in pool.sorted_terms():
        if not getattr(pool.schema[fieldname], "in_postings_file", True):
            continue
        entries = [entry for _, entry in terms]
        counts = np.fromiter((len(e.docs) for e in entries), dtype=np.int64, count=len(entries))
        info: dict[str, Any] = {
            "terms": put(pickle.dumps({t: i for i, (t, _) in enumerate(terms)}, protocol=5)),
            "starts": put_array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)),
            "ids": put_array(_narrow(_flat(entries, "docs", np.uint32))),
            "weights": put_array(_flat(entries, "weights", np.float32)),
        }
        if entries[0].positions is not None:
            pcounts = _flat(entries, "counts", np.int64)
            info["pstarts"] = put_array(_narrow(np.concatenate([[0], np.cumsum(pcounts)])))
            positions = [np.frombuffer(entry.positions, dtype=np.uint32) for entry in entries]
            info["positions"] = put_array(_narrow(np.concatenate(positions)))
        directory[fieldname] = info
    start, _ = put(pickle.dumps(directory, protocol=5))
    out.write(_TRAILER.pack(start, _MAGIC))


def _narrow(values: np.ndarray) -> np.ndarray:
    """Unsigned integers in the smallest type that holds them (uint16 often does)."""
    largest = int(values.max()) if len(values) else 0
    return values.astype(np.min_scalar_type(max(largest, 256)))


def _flat(entries: list[_TermPostings], name: str, dtype: Any) -> np.ndarray:
    """One list attribute of every term, concatenated."""
    return np.fromiter(chain.from_iterable([getattr(e, name) for e in entries]), dtype=dtype)


@dataclass(frozen=True, slots=True)
class TermPostings:
    """One term's postings in one segment: document numbers (in the segment) and weights."""

    ids: np.ndarray
    weights: np.ndarray
    # Positions of posting i are positions[pstarts[i]:pstarts[i + 1]] (positional fields).
    pstarts: np.ndarray | None
    positions: np.ndarray | None


class SegmentPostings:
    """A segment's postings file, memory-mapped: posting lists as numpy arrays."""

    def __init__(self, path: Path) -> None:
        self._data = np.memmap(path, dtype=np.uint8, mode="r")
        directory_at, magic = _TRAILER.unpack(bytes(self._data[-_TRAILER.size :]))
        if magic != _MAGIC:
            raise ValueError(f"{path} is not a postings file")
        end = len(self._data) - _TRAILER.size
        self._directory: dict[str, dict[str, Any]] = pickle.loads(
            self._data[directory_at:end].tobytes()
        )
        self._terms: dict[str, dict[bytes, int]] = {}

    @classmethod
    def open(cls, folder: Path, segment: Any) -> SegmentPostings | None:
        """The postings file of a segment, or None if it has none (written by plain whoosh).

        `segment` is None for the reader of an empty index, which has nothing to read.
        """
        if segment is None:
            return None
        path = Path(folder) / segment.make_filename(POSTINGS_EXT)
        return cls(path) if path.exists() else None

    def has_field(self, fieldname: str) -> bool:
        """Whether the file holds this field's posting lists (else read them from whoosh)."""
        return fieldname in self._directory

    def term(self, fieldname: str, tbytes: bytes) -> TermPostings | None:
        """A term's postings, or None when the segment does not have the term."""
        info = self._directory.get(fieldname)
        if info is None:
            return None
        number = self._term_numbers(fieldname, info).get(tbytes)
        if number is None:
            return None
        starts = self._array(info["starts"])
        begin, end = int(starts[number]), int(starts[number + 1])
        ids = self._array(info["ids"])[begin:end]
        weights = self._array(info["weights"])[begin:end]
        if "pstarts" not in info:
            return TermPostings(ids, weights, None, None)
        pstarts = self._array(info["pstarts"])[begin : end + 1]
        return TermPostings(ids, weights, pstarts, self._array(info["positions"]))

    def _term_numbers(self, fieldname: str, info: dict[str, Any]) -> dict[bytes, int]:
        numbers = self._terms.get(fieldname)
        if numbers is None:
            start, length = info["terms"]
            numbers = pickle.loads(self._data[start : start + length].tobytes())
            self._terms[fieldname] = numbers
        return numbers

    def _array(self, spec: tuple[int, int, str]) -> np.ndarray:
        start, count, dtype = spec
        return np.frombuffer(self._data, dtype=np.dtype(dtype), count=count, offset=start)
