"""Charts for the analytics page, drawn on the server as inline SVG.

No chart library and no script: the geometry is computed here, and
`templates/author/_charts.html` writes it out. Horizontal positions are
percentages of the chart's width and vertical ones are pixels, so a chart
fills any screen while its text keeps the page's font size (a viewBox would
shrink the labels to nothing on a phone). Line charts draw their lines in a
nested, stretched SVG with non-scaling strokes. Every chart carries a text
alternative, and the page shows the same figures in tables.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Left margin (percent of the width) for the vertical axis labels.
LEFT = 9.0
RIGHT = 98.0


@dataclass(frozen=True)
class Column:
    """One column of a column chart: x and width in percent, y and height in pixels."""

    label: str
    value: int
    x: float
    width: float
    y: float
    height: float

    @property
    def centre(self) -> float:
        """Where the column's labels go (percent)."""
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class ColumnChart:
    """Counts per category (e.g. learners per score band)."""

    title: str
    description: str
    columns: list[Column]
    maximum: int
    height: int
    plot_height: int
    top: int

    @property
    def baseline(self) -> int:
        """The y of the columns' foot (pixels)."""
        return self.top + self.plot_height


def column_chart(title: str, labels: list[str], values: list[int], *, unit: str,
                 plot_height: int = 150) -> ColumnChart:
    """Columns scaled to the largest value (a chart of zeros stays flat)."""
    top = 18  # room for the value above the tallest column
    maximum = max(values, default=0)
    slot = (RIGHT - LEFT) / max(len(values), 1)
    columns = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = round(plot_height * value / maximum, 1) if maximum else 0.0
        columns.append(Column(label=label, value=value,
                              x=round(LEFT + index * slot + slot * 0.12, 2),
                              width=round(slot * 0.76, 2), y=round(top + plot_height - height, 1),
                              height=height))
    description = "; ".join(f"{label}: {value} {unit}" for label, value in zip(labels, values,
                                                                               strict=True))
    return ColumnChart(title=title, description=description, columns=columns, maximum=maximum,
                       height=top + plot_height + 24, plot_height=plot_height, top=top)


@dataclass(frozen=True)
class Series:
    """One line: its name (a CSS class too) and its points in the inner plot's units."""

    name: str
    label: str
    points: str  # "x,y x,y …" for a <polyline>
    last: int


@dataclass(frozen=True)
class LineChart:
    """Values over time (e.g. learners and completions per day, cumulative)."""

    title: str
    description: str
    series: list[Series]
    maximum: int
    first: str
    last: str
    #: The inner plot's viewBox: width (one unit a day), height (the maximum value).
    span: int
    height: int
    plot_top: int
    plot_height: int
    left: float = LEFT
    right: float = RIGHT


def line_chart(title: str, days: list[str], lines: dict[str, tuple[str, list[int]]], *,
               plot_height: int = 160) -> LineChart:
    """Lines over `days` (oldest first); `lines` maps a CSS name to (label, values per day)."""
    maximum = max((max(values, default=0) for _, values in lines.values()), default=0) or 1
    span = max(len(days) - 1, 1)
    series = []
    for name, (label, values) in lines.items():
        # y grows downwards: the inner viewBox is 0 … maximum, flipped here.
        points = " ".join(f"{index},{maximum - value}" for index, value in enumerate(values))
        if len(values) == 1:
            points += f" {span},{maximum - values[0]}"  # one day: a flat line across
        series.append(Series(name=name, label=label, points=points,
                             last=values[-1] if values else 0))
    description = (f"From {days[0]} to {days[-1]}: " if days else "No data yet. ") + "; ".join(
        f"{s.label} {s.last}" for s in series)
    return LineChart(title=title, description=description, series=series, maximum=maximum,
                     first=days[0] if days else "", last=days[-1] if days else "", span=span,
                     height=plot_height + 44, plot_top=12, plot_height=plot_height)


@dataclass(frozen=True)
class Meter:
    """A share drawn as a bar in a table cell (the number is in the next cell)."""

    percent: float

    @classmethod
    def of(cls, rate: float | None) -> Meter | None:
        """A meter for a rate 0 … 1, or None when there is no rate (nothing to count)."""
        return None if rate is None else cls(round(max(0.0, min(1.0, rate)) * 100, 1))
