"""Plausible mistakes in the powder-diffraction exercises."""

from tests.integration.courses.mistakes import Mistake

PEAKS = "03-exercise-peaks-and-d-spacings.ipynb"
LATTICE = "05-exercise-lattice-parameter.ipynb"

MISTAKES = [
    Mistake(PEAKS,
            {"dspacing": "d_spacing = wavelength / (2 * np.sin(np.radians(peak_two_theta)))"},
            "check-d-spacing", "half of 2θ"),
    Mistake(PEAKS, {"dspacing": "d_spacing = wavelength / (2 * np.sin(peak_two_theta / 2))"},
            "check-d-spacing", "radians"),
    Mistake(PEAKS,
            {"peaks": "indices, _ = find_peaks(counts)\npeak_two_theta = two_theta[indices]"},
            "check-peaks", "prominence=200"),
    Mistake(PEAKS, {"qvalues": "q_values = 1 / d_spacing"}, "check-q", "2π/d"),
    Mistake(LATTICE, {"indexing": "N = np.rint((d_obs[0] / d_obs) ** 2).astype(int)"},
            "check-indexing", "multiply the ratios by 3"),
    Mistake(LATTICE, {"lattice": "lattice_a = np.mean(d_obs / np.sqrt(N))"},
            "check-lattice", "not d/√N"),
]
