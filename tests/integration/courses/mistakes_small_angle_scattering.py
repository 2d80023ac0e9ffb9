"""Plausible mistakes in the small-angle scattering exercises."""

from tests.integration.courses.mistakes import Mistake

QMAP = "03-exercise-q-of-every-pixel.ipynb"
GUINIER = "06-exercise-radial-average-and-guinier.ipynb"

MISTAKES = [
    Mistake(QMAP, {"wavelength": "wavelength_A = wavelength_nm"},
            "check-wavelength", "value in nm"),
    Mistake(QMAP, {"two-theta": "two_theta = np.arctan(pixel_mm * "
                                "np.hypot(cols - beam_y, rows - beam_x) / distance_mm)"},
            "check-two-theta", "swapped"),
    Mistake(QMAP, {"two-theta": "two_theta = np.arctan("
                                "np.hypot(cols - beam_x, rows - beam_y) / distance_mm)"},
            "check-two-theta", "pixel_mm"),
    Mistake(QMAP, {"q-map": "q = 4 * np.pi / wavelength_A * np.sin(two_theta)"},
            "check-q", "half of the scattering angle"),
    Mistake(GUINIER, {"radial-average": "intensity, _ = np.histogram(q[mask], bins=q_edges, "
                                        "weights=counts[mask])"},
            "check-intensity", "divide by the number of pixels"),
    Mistake(GUINIER, {"radial-average": "summed, _ = np.histogram(q, bins=q_edges, "
                                        "weights=counts)\n"
                                        "pixels, _ = np.histogram(q, bins=q_edges)\n"
                                        "intensity = summed / pixels"},
            "check-intensity", "masked pixels"),
    Mistake(GUINIER, {"guinier": "background = intensity[q_centres > 0.2].mean()\n"
                                 "low = q_centres < 0.06\n"
                                 "slope, _ = np.polyfit(q_centres[low] ** 2, "
                                 "np.log(intensity[low] - background), 1)\n"
                                 "Rg = np.sqrt(-slope)"},
            "check-rg", "√(−3·slope)"),
    Mistake(GUINIER, {"guinier": "low = q_centres < 0.06\n"
                                 "slope, _ = np.polyfit(q_centres[low] ** 2, "
                                 "np.log(intensity[low]), 1)\n"
                                 "Rg = np.sqrt(-3 * slope)"},
            "check-rg", "subtract the background"),
]
