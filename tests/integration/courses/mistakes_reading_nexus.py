"""Plausible mistakes in the NeXus/HDF5 reading exercises."""

from tests.integration.courses.mistakes import Mistake

PEAK = "03-exercise-peak-to-d-spacing.ipynb"
LINKS = "06-exercise-missing-external-link.ipynb"
UNKNOWN = "08-exercise-explore-an-unknown-file.ipynb"
#: Students get dmc01.h5 or lrcs3701.nx5; checks compare with the reference on the same file.
#: Mistakes are graded on the first choice, dmc01.h5.
OWN_FILE = "09-exercise-your-own-nexus-file.ipynb"
_NXDATA = ("entry = f[entry_name]\n"
           "nxdata = next(entry[name] for name in entry\n"
           "              if isinstance(entry[name], h5py.Group) and "
           "nx_class(entry[name]) == 'NXdata')\n")

MISTAKES = [
    Mistake(PEAK,
            {"peak-angle-solution": "peak_two_theta = float(np.argmax(counts))"},
            "peak-angle", "index of the maximum"),
    Mistake(PEAK, {"d-spacing-solution":
                   "d_spacing = wavelength / (2 * np.sin(np.radians(peak_two_theta)))"},
            "d-spacing", "half of the 2θ"),
    Mistake(LINKS, {"missing-file": "with h5py.File(data_file, 'r') as f:\n"
                                    "    link = f.get('entry1/instrument/pil100k/data', "
                                    "getlink=True)\n"
                                    "missing_file = link.path"},
            "check-missing-file", "link.filename"),
    Mistake(LINKS, {"roi-chi2": "roi_chi2 = float(np.sum((roi1_sum - roi1_sum.mean()) ** 2 "
                                "/ roi1_sum.mean()))"},
            "check-roi-chi2", "n − 1"),
    Mistake(LINKS,
            {"eta-peak": "eta_peak = float(eta[np.argmax(roi1_sum)])"},
            "check-eta-peak", "only noise"),
    Mistake(UNKNOWN, {"detector-path": "detector_path = 'entry/instrument/detector'"},
            "check-detector-path", "starting with '/'"),
    Mistake(UNKNOWN, {"distance": "distance_m = float(f[detector_path + '/distance'][0])"},
            "check-distance", "convert to metres"),
    Mistake(UNKNOWN, {"wavelength": "wavelength_from_energy = 12.39842 / "
                                    "(1000 * float("
                                    "f['/entry/instrument/monochromator/energy'][0]))"},
            "check-wavelength", "keV"),
    Mistake(UNKNOWN, {"sample-name": "sample_name = 'AgBehenate_228'"},
            "check-sample-name", "not the file name"),
    Mistake(OWN_FILE, {"entry-name": "entry_name = '/' + next(name for name in f "
                                      "if nx_class(f[name]) == 'NXentry')"},
            "check-entry-name", "without '/'"),
    Mistake(OWN_FILE, {"signal-path": _NXDATA + "signal_path = nxdata.name"},
            "check-signal-path", "the NXdata group itself"),
    Mistake(OWN_FILE, {"signal-path": _NXDATA + "signal_path = nxdata['two_theta'].name"},
            "check-signal-path", "not an axis"),
    Mistake(OWN_FILE, {"total-counts": "total_counts = float(np.mean(f[signal_path][()]))"},
            "check-total-counts", "mean of the signal"),
    # Copied from a neighbour who got lrcs3701.nx5: that file's total, not this one's.
    Mistake(OWN_FILE, {"total-counts": "total_counts = 2666912.0"},
            "check-total-counts", "copied from another file"),
]
