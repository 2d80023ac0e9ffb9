"""Plausible student mistakes in the exercises of courses/imaging-and-tomography.

Each must lose the points of `failing_check`, with a message containing `message_fragment`
(see tests/integration/courses/mistakes.py and test_shipped_courses.py).
"""

from tests.integration.courses.mistakes import Mistake

FLAT_FIELD = "02-exercise-flat-field-correction.ipynb"
FBP = "04-exercise-filtered-back-projection.ipynb"
STXM = "06-exercise-stxm-optical-density.ipynb"

_BACK_PROJECTION = """\
theta = {theta}
pixels = np.arange(size)
reconstruction = np.zeros((size, size))
for row, angle in zip({rows}, theta):
    s = X * np.cos(angle) + Y * np.sin(angle) + centre
    reconstruction += np.interp(s, pixels, row, left=0.0, right=0.0)
reconstruction *= np.pi / len(theta)
"""

MISTAKES = [
    # Forgetting the dark field.
    Mistake(
        FLAT_FIELD,
        {
            "transmission-solution": (
                "transmission = data / white_mean\n"
                "mean_transmission = float(transmission.mean())\n"
            )
        },
        "transmission",
        "the dark field is missing",
    ),
    # Swapping flats and darks.
    Mistake(
        FLAT_FIELD,
        {"averages-solution": "dark_mean = white.mean(axis=0)\nwhite_mean = dark.mean(axis=0)\n"},
        "averages",
        "are swapped",
    ),
    # Decimal instead of natural logarithm.
    Mistake(
        FLAT_FIELD,
        {"sinogram-solution": "sinogram = -np.log10(transmission[:, 0, :])\n"},
        "sinogram",
        "natural logarithm",
    ),
    # Angles left in degrees.
    Mistake(
        FBP,
        {"backprojection-solution": _BACK_PROJECTION.format(theta="theta_deg", rows="filtered")},
        "reconstruction",
        "theta_deg is in degrees",
    ),
    # Back-projecting the unfiltered sinogram.
    Mistake(
        FBP,
        {"backprojection-solution": _BACK_PROJECTION.format(theta="np.radians(theta_deg)",
                                                            rows="sino")},
        "reconstruction",
        "plain back-projection",
    ),
    # A ramp twice too steep.
    Mistake(
        FBP,
        {
            "filter-solution": (
                "spectrum = np.fft.fft(sino, n=1024, axis=1) * 2 * np.abs(np.fft.fftfreq(1024))\n"
                "filtered = np.real(np.fft.ifft(spectrum, axis=1))[:, :size]\n"
            )
        },
        "ramp-filter",
        "twice the expected values",
    ),
    # Counts per mA instead of counts rescaled to 400 mA.
    Mistake(
        STXM,
        {"normalise-solution": "normalised = counts / ring\n"},
        "ring-normalisation",
        "counts per mA",
    ),
    # Decimal logarithm for the optical density.
    Mistake(
        STXM,
        {
            "od-solution": (
                "empty = sample_x >= 6010\n"
                "i0 = float(normalised[:, empty].mean())\n"
                "od = -np.log10(normalised / i0)\n"
            )
        },
        "optical-density",
        "natural logarithm",
    ),
    # Image axes swapped: a column instead of a row.
    Mistake(
        STXM,
        {
            "profile-solution": (
                "profile_row = int(np.argmin(np.abs(sample_y - 5400)))\n"
                "profile = od[:, profile_row]\n"
            )
        },
        "line-profile",
        "profile is a column of the image",
    ),
]
