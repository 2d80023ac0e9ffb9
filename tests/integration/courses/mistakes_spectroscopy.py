"""Plausible student mistakes in the exercises of courses/spectroscopy.

Each must lose the points of `failing_check`, with a message containing `message_fragment`
(see tests/integration/courses/mistakes.py and test_shipped_courses.py).
"""

from tests.integration.courses.mistakes import Mistake

INCIDENT_ENERGY = "02-exercise-incident-energy.ipynb"
EDGE = "05-exercise-edge-and-normalisation.ipynb"

MISTAKES = [
    # Off-by-half-a-bin: the left bin edge instead of the bin centre.
    Mistake(
        INCIDENT_ENERGY,
        {
            "peak-times-solution": (
                "t1 = float(edges1[np.argmax(counts1)])\n"
                "t2 = float(edges2[np.argmax(counts2)])\n"
            )
        },
        "peak-times",
        "is an edge of the highest bin",
    ),
    # Unit error: microseconds taken as seconds.
    Mistake(
        INCIDENT_ENERGY,
        {"speed-solution": "speed = (distance2 - distance1) / (t2 - t1)\n"},
        "speed",
        "Convert the times from µs to s",
    ),
    # Unit error: the energy left in eV.
    Mistake(
        INCIDENT_ENERGY,
        {"energy-solution": "incident_energy = 0.5 * constants.m_n * speed**2 / constants.e\n"},
        "incident-energy",
        "that is the energy in eV",
    ),
    # Forgetting the 1/2 of the kinetic energy.
    Mistake(
        INCIDENT_ENERGY,
        {"energy-solution": "incident_energy = constants.m_n * speed**2 / constants.e * 1e3\n"},
        "incident-energy",
        "m v² / 2",
    ),
    # Wavelength left in metre.
    Mistake(
        INCIDENT_ENERGY,
        {"wavelength-solution": "wavelength = constants.h / (constants.m_n * speed)\n"},
        "wavelength",
        "that is in metre",
    ),
    # E0 at the maximum of mu instead of the maximum of its derivative.
    Mistake(
        EDGE,
        {"e0-solution": "e0 = float(energy[np.argmax(mu)])\n"},
        "edge-energy",
        "maximum of the derivative",
    ),
    # A straight post-edge line instead of the quadratic asked for.
    Mistake(
        EDGE,
        {
            "edge-lines-solution": (
                "x = energy - e0\n"
                "pre = (x >= -150) & (x <= -30)\n"
                "post = (x >= 100) & (x <= 1000)\n"
                "pre_coeffs = np.polyfit(x[pre], mu[pre], 1)\n"
                "post_coeffs = np.polyfit(x[post], mu[post], 1)\n"
                "pre_edge = np.polyval(pre_coeffs, x)\n"
                "post_edge = np.polyval(post_coeffs, x)\n"
            )
        },
        "pre-and-post-edge",
        "looks like a straight line",
    ),
    # Normalising without subtracting the pre-edge line.
    Mistake(
        EDGE,
        {
            "normalise-solution": (
                "edge_step = float(post_coeffs[-1] - pre_coeffs[-1])\n"
                "norm = mu / edge_step\n"
            )
        },
        "normalised-spectrum",
        "Subtract the pre-edge line",
    ),
]
