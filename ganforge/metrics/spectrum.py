"""Periodic artefacts in a set of images, measured: the mean amplitude spectrum of the images (grey, each image's mean
removed) at the lattice frequencies of a period of P pixels, (R/P, 0), (0, R/P) and (R/P, R/P), over the median
amplitude of the other frequencies at the same horizontal or vertical frequency below it. A value near the real
images' means no more of that period than the data has; a 2-pixel period (P = 2, the Nyquist frequency) is the fine
dotted texture that G's 2x upsampling layers can leave."""
import numpy as np

PERIODS = (8, 4, 2)


def mean_amplitude_spectrum(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 or float -> (H, W) mean |FFT| of the grey images."""
    grey = np.asarray(pixels, dtype=np.float64).mean(-1)
    grey = grey - grey.mean((1, 2), keepdims=True)
    return np.abs(np.fft.fft2(grey)).mean(0)


def lattice_peaks(pixels: np.ndarray, periods=PERIODS) -> dict[int, float]:
    """{period: the spectrum at its lattice frequencies / the median of its neighbours}, for square images."""
    spectrum = mean_amplitude_spectrum(pixels)
    size = spectrum.shape[0]
    peaks = {}
    for period in periods:
        f = size // period
        at = (spectrum[f, 0] + spectrum[0, f] + spectrum[f, f]) / 3
        neighbours = np.concatenate([spectrum[f, 1:f], spectrum[1:f, f]])
        peaks[period] = float(at / np.median(neighbours))
    return peaks
