"""Streaming audio fingerprints that survive radio: speed changes, compression, noise, phone lines.

Pipeline (one stage per function, audfprint/Olaf style):

    samples (mono float32, 8 kHz)
      -> frames        Hann window 1024 samples (128 ms), hop 256 samples (32 ms)
      -> spectrogram   power on a log-frequency axis: 24 bins per octave, 200..3800 Hz (103 bins),
                       smoothed [1, 2, 1] over frames so peaks barely depend on the frame grid
      -> candidates    local maxima over +-4 frames x +-3 bins, above an absolute floor
      -> peaks         candidates ranked by prominence over the local spectral mean; a candidate is
                       kept when fewer than `peaks_per_window_max` candidates within +-8 frames rank
                       above it (a sliding rule, so a time-stretched song keeps the same peaks)
      -> triplets      each anchor peak with pairs of its first `targets_max` later peaks
      -> hashes        uint32, layout below

Why triplets on a log-frequency axis (after Panako): a radio station that plays a song r times
faster by resampling shifts every frequency by log2(r) octaves and divides every duration by r.
A tempo-only stretch divides durations only. So the hash keeps log-frequency *differences* (shift
invariant) and the *ratio* of two time gaps (scale invariant), and drops absolute time and
absolute frequency apart from a coarse band. The matcher recovers r from how reference time runs
against query time.

Hash layout (21 bits used of a uint32; most robust fields high, the least robust field lowest so
a matcher may probe +-1 on it):

    bit  20 19 18 | 17 ... 12 | 11 ... 6 | 5  4 | 3  2  1  0
         band     | df2 + 24  | df3 + 24 | span | ratio
    band   anchor's log-frequency bin // 13: eight bands of about half an octave
    df2    round(f2 - f1) in log bins (1/24 octave), clipped to +-24, stored + 24 (0..48)
    df3    round(f3 - f1), the same
    span   time from anchor to third peak: 0 if <= 6 frames, 1 if <= 12, 2 if <= 20, 3 above
    ratio  floor(16 * (t2 - t1) / (t3 - t1)), 0..15 (t1 < t2 <= t3)

Worked example: anchor at log bin 40.2 (band 3), second peak 5.4 bins above and 8 frames later,
third 3.1 bins below and 20 frames later: band 3, df2 = 5 + 24 = 29, df3 = -3 + 24 = 21,
span = 2, ratio = floor(16 * 8 / 20) = 6, so
hash = 3 << 18 | 29 << 12 | 21 << 6 | 2 << 4 | 6 = 0x000DD566.

Streaming: `StreamingFingerprinter.feed` accepts chunks of any size and returns the hashes that
are final; frame indices are absolute since the start of the stream, and every decision looks at
a bounded neighbourhood, so feeding a signal in pieces yields exactly the hashes of feeding it
whole, with bounded memory. Pure: numpy and scipy only, no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from scipy import sparse
from scipy.ndimage import maximum_filter1d, uniform_filter1d

FINGERPRINT_VERSION = 2  # 2: band power smoothed [1, 2, 1] over time before peak picking

SAMPLE_RATE_HZ = 8000
FFT_SAMPLES = 1024
HOP_SAMPLES = 256
FRAME_MS = 1000.0 * HOP_SAMPLES / SAMPLE_RATE_HZ  # 32 ms

FREQ_MIN_HZ = 200.0
FREQ_MAX_HZ = 3800.0
BINS_PER_OCTAVE = 24
BIN_COUNT = int(np.floor(BINS_PER_OCTAVE * np.log2(FREQ_MAX_HZ / FREQ_MIN_HZ))) + 1

PEAK_NEIGHBOUR_FRAMES = 4  # a candidate is the maximum over +-4 frames ...
PEAK_NEIGHBOUR_BINS = 3  # ... and +-3 log bins
MEAN_HALF_WIDTH_BINS = 12  # prominence is measured over the mean of +-12 bins (one octave)
FLOOR_DB = -30.0  # about -75 dBFS: quieter candidates are dither, not music
PROMINENCE_DB_MIN = 2.0
RANK_HALF_WIDTH_FRAMES = 8  # density rule looks +-8 frames (+-256 ms) around a candidate

TARGET_DT_MIN_FRAMES = 1
TARGET_DT_MAX_FRAMES = 32  # a triplet spans at most ~1 s
TARGET_DF_MAX_BINS = 24  # targets within one octave of the anchor
TARGET_LOOKAHEAD_MAX = 24  # peaks examined after an anchor (bounded by the density rule)

BAND_WIDTH_BINS = 13
SPAN_EDGES_FRAMES = (6, 12, 20)
RATIO_LEVELS = 16
RATIO_BITS = 4
SPAN_BITS = 2
DF_BITS = 6
HASH_BITS = 21


@dataclass(frozen=True)
class FingerprintParams:
    """Density knobs: the edge sends a sparse set, the catalogue stores a denser superset."""

    peaks_per_window_max: int  # peaks kept within any +-RANK_HALF_WIDTH_FRAMES window
    targets_max: int  # later peaks paired with each anchor: C(targets_max, 2) triplets

    def __post_init__(self) -> None:
        assert 1 <= self.peaks_per_window_max <= 32
        assert 2 <= self.targets_max <= 8


QUERY = FingerprintParams(peaks_per_window_max=5, targets_max=3)
REFERENCE = FingerprintParams(peaks_per_window_max=5, targets_max=4)


@dataclass(frozen=True)
class Fingerprints:
    """Hashes and the absolute frame of each hash's anchor peak, in stream order."""

    hashes: np.ndarray  # uint32
    anchor_frames: np.ndarray  # uint32

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    @staticmethod
    def empty() -> Fingerprints:
        """No hashes."""
        return Fingerprints(np.zeros(0, np.uint32), np.zeros(0, np.uint32))

    @staticmethod
    def concat(parts: list[Fingerprints]) -> Fingerprints:
        """Join consecutive pieces of one stream."""
        if not parts:
            return Fingerprints.empty()
        return Fingerprints(
            np.concatenate([p.hashes for p in parts]).astype(np.uint32, copy=False),
            np.concatenate([p.anchor_frames for p in parts]).astype(np.uint32, copy=False),
        )


@dataclass(frozen=True)
class Peaks:
    """Spectral peaks: integer frame and bin, interpolated frame and bin, prominence in dB."""

    frames: np.ndarray  # int64, absolute frame index
    bins: np.ndarray  # int64, log-frequency bin
    frames_fine: np.ndarray  # float64, parabolic interpolation in time
    bins_fine: np.ndarray  # float64, parabolic interpolation in frequency
    prominence_db: np.ndarray  # float32

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def take(self, index: np.ndarray | slice) -> Peaks:
        """A subset, keeping the fields aligned."""
        return Peaks(
            self.frames[index],
            self.bins[index],
            self.frames_fine[index],
            self.bins_fine[index],
            self.prominence_db[index],
        )

    @staticmethod
    def concat(parts: list[Peaks]) -> Peaks:
        """Join peak sets."""
        return Peaks(*(np.concatenate([getattr(p, f) for p in parts]) for f in _PEAK_FIELDS))

    @staticmethod
    def empty() -> Peaks:
        """No peaks."""
        return Peaks(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.float64),
            np.zeros(0, np.float32),
        )


_PEAK_FIELDS = ("frames", "bins", "frames_fine", "bins_fine", "prominence_db")


# ---------------------------------------------------------------------------------------------
# Stage 1: frames -> log-frequency spectrogram


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(FFT_SAMPLES + 1)[:-1].astype(np.float32)  # periodic Hann


@lru_cache(maxsize=1)
def log_filterbank() -> tuple[sparse.csr_matrix, int, int]:
    """Triangular filters from linear FFT bins to log bins: (matrix, first_bin, last_bin + 1)."""
    linear_hz = np.arange(FFT_SAMPLES // 2 + 1) * SAMPLE_RATE_HZ / FFT_SAMPLES
    centres_hz = FREQ_MIN_HZ * 2.0 ** (np.arange(BIN_COUNT) / BINS_PER_OCTAVE)
    step = 2.0 ** (1.0 / BINS_PER_OCTAVE)
    resolution_hz = SAMPLE_RATE_HZ / FFT_SAMPLES
    rows, cols, vals = [], [], []
    for b, centre in enumerate(centres_hz):
        half_width_hz = max(centre * (step - 1.0), resolution_hz)
        weights = np.clip(1.0 - np.abs(linear_hz - centre) / half_width_hz, 0.0, None)
        nz = np.nonzero(weights)[0]
        rows += [b] * len(nz)
        cols += list(nz)
        vals += list(weights[nz] / weights[nz].sum())
    first, stop = min(cols), max(cols) + 1
    matrix = sparse.csr_matrix(
        (np.array(vals, np.float32), (rows, np.array(cols) - first)),
        shape=(BIN_COUNT, stop - first),
    )
    return matrix, first, stop


def band_power(samples: np.ndarray) -> np.ndarray:
    """Log-frequency band power (linear), one row per complete frame: (frames, BIN_COUNT)."""
    frame_count = frame_count_for(len(samples))
    if frame_count == 0:
        return np.zeros((0, BIN_COUNT), np.float32)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    framed = np.lib.stride_tricks.sliding_window_view(samples, FFT_SAMPLES)[::HOP_SAMPLES]
    spectrum = scipy.fft.rfft(framed[:frame_count] * _window(), axis=1, workers=1)
    matrix, first, stop = log_filterbank()
    band = spectrum[:, first:stop]
    power = band.real * band.real + band.imag * band.imag
    return (matrix @ power.T).T.astype(np.float32)


def smooth_to_db(power: np.ndarray, power_first: int, lo: int, hi: int, frames_total: int):
    """Frames lo..hi-1 smoothed [1, 2, 1] over time, in dB; `power` row 0 is frame power_first.

    Smoothing makes peaks nearly independent of where the frame grid falls in the audio (the
    edge never shares the catalogue's grid). A missing neighbour (stream start or end) drops out
    of the average. `power` must hold frames lo-1..hi where they exist.
    """
    t = np.arange(lo, hi)
    last = power_first + len(power) - 1
    centre = power[t - power_first]
    has_prev = (t > 0)[:, None]
    has_next = (t + 1 < frames_total)[:, None]
    prev = power[np.maximum(t - 1, power_first) - power_first] * has_prev
    nxt = power[np.minimum(t + 1, last) - power_first] * has_next
    smoothed = (2.0 * centre + prev + nxt) / (2.0 + has_prev + has_next)
    return (10.0 * np.log10(smoothed + 1e-12)).astype(np.float32)


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """Smoothed log-frequency power in dB of a whole signal: (frames, BIN_COUNT) float32."""
    power = band_power(samples)
    return smooth_to_db(power, 0, 0, len(power), len(power))


def frame_count_for(sample_count: int) -> int:
    """Complete frames in a signal of `sample_count` samples."""
    if sample_count < FFT_SAMPLES:
        return 0
    return (sample_count - FFT_SAMPLES) // HOP_SAMPLES + 1


# ---------------------------------------------------------------------------------------------
# Stage 2: spectrogram -> candidate peaks


def find_candidates(spec: np.ndarray, first_frame: int, lo: int, hi: int) -> Peaks:
    """Local maxima among rows lo..hi-1 of `spec` (whose row 0 is frame `first_frame`).

    Rows outside `spec` count as silence, so callers pass every row within
    PEAK_NEIGHBOUR_FRAMES of lo..hi-1 that exists.
    """
    if hi <= lo:
        return Peaks.empty()
    neighbourhood = maximum_filter1d(
        spec, 2 * PEAK_NEIGHBOUR_BINS + 1, axis=1, mode="constant", cval=-np.inf
    )
    neighbourhood = maximum_filter1d(
        neighbourhood, 2 * PEAK_NEIGHBOUR_FRAMES + 1, axis=0, mode="constant", cval=-np.inf
    )
    local_mean = uniform_filter1d(spec[lo:hi], 2 * MEAN_HALF_WIDTH_BINS + 1, axis=1, mode="nearest")
    rows = spec[lo:hi]
    prominence = rows - local_mean
    is_peak = (rows == neighbourhood[lo:hi]) & (rows > FLOOR_DB) & (prominence > PROMINENCE_DB_MIN)
    r, b = np.nonzero(is_peak)
    r_abs = r + lo
    frames_fine = r_abs + _parabolic_offset(spec, r_abs, b, axis=0)
    bins_fine = b + _parabolic_offset(spec, r_abs, b, axis=1)
    return Peaks(
        (r_abs + first_frame).astype(np.int64),
        b.astype(np.int64),
        frames_fine + first_frame,
        bins_fine,
        prominence[r, b].astype(np.float32),
    )


def _parabolic_offset(spec: np.ndarray, r: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Sub-cell position of a maximum from a parabola through it and its two neighbours."""
    limit = spec.shape[axis] - 1
    if axis == 0:
        prev = spec[np.maximum(r - 1, 0), b]
        nxt = spec[np.minimum(r + 1, limit), b]
        edge = (r == 0) | (r == limit)
    else:
        prev = spec[r, np.maximum(b - 1, 0)]
        nxt = spec[r, np.minimum(b + 1, limit)]
        edge = (b == 0) | (b == limit)
    centre = spec[r, b]
    prev = np.where(np.isfinite(prev), prev, centre)
    nxt = np.where(np.isfinite(nxt), nxt, centre)
    denom = prev - 2.0 * centre + nxt
    safe = np.where(denom < 0, denom, -1.0)
    offset = np.where((denom < 0) & ~edge, 0.5 * (prev - nxt) / safe, 0.0)
    return np.clip(offset, -0.5, 0.5).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Stage 3: candidates -> peaks (sliding density rule)


def select_peaks(candidates: Peaks, lo_frame: int, hi_frame: int, peaks_max: int) -> Peaks:
    """Keep candidates in frames lo..hi-1 outranked by fewer than `peaks_max` within +-8 frames.

    `candidates` must hold every candidate within RANK_HALF_WIDTH_FRAMES of the range, sorted by
    (frame, bin). Ties in prominence go to the earlier, then lower, peak, so the rule is total.
    """
    frames = candidates.frames
    own = np.nonzero((frames >= lo_frame) & (frames < hi_frame))[0]
    if len(own) == 0:
        return Peaks.empty()
    start = np.searchsorted(frames, frames[own] - RANK_HALF_WIDTH_FRAMES, "left")
    stop = np.searchsorted(frames, frames[own] + RANK_HALF_WIDTH_FRAMES, "right")
    width = int((stop - start).max())
    others = start[:, None] + np.arange(width)[None, :]
    inside = others < stop[:, None]
    others = np.minimum(others, len(frames) - 1)
    mine = candidates.prominence_db[own][:, None]
    theirs = candidates.prominence_db[others]
    outranks = (theirs > mine) | ((theirs == mine) & (others < own[:, None]))
    rank = np.count_nonzero(outranks & inside, axis=1)
    return candidates.take(own[rank < peaks_max])


# ---------------------------------------------------------------------------------------------
# Stage 4: peaks -> triplet hashes


def _pair_table(targets_max: int) -> np.ndarray:
    """Target index pairs (j, k), j < k, in the order that makes QUERY's a prefix of REFERENCE's."""
    pairs = [(j, k) for k in range(1, targets_max) for j in range(k)]
    return np.array(pairs, dtype=np.int64)


def triplet_hashes(peaks: Peaks, lo: int, hi: int, targets_max: int) -> Fingerprints:
    """Hashes for anchors lo..hi-1 of `peaks` (sorted by frame, bin; later peaks all present)."""
    if hi <= lo:
        return Fingerprints.empty()
    n = len(peaks)
    anchors = np.arange(lo, hi)
    following = anchors[:, None] + np.arange(1, TARGET_LOOKAHEAD_MAX + 1)[None, :]
    exists = following < n
    following = np.minimum(following, n - 1)
    dt = peaks.frames[following] - peaks.frames[anchors][:, None]
    df = peaks.bins_fine[following] - peaks.bins_fine[anchors][:, None]
    valid = (
        exists
        & (dt >= TARGET_DT_MIN_FRAMES)
        & (dt <= TARGET_DT_MAX_FRAMES)
        & (np.abs(df) <= TARGET_DF_MAX_BINS)
    )
    order = np.cumsum(valid, axis=1)
    chosen = np.full((len(anchors), targets_max), -1, dtype=np.int64)
    for m in range(targets_max):
        hit = valid & (order == m + 1)
        has = hit.any(axis=1)
        chosen[has, m] = following[has, hit[has].argmax(axis=1)]
    pairs = _pair_table(targets_max)
    a = np.repeat(anchors, len(pairs))
    j = chosen[:, pairs[:, 0]].reshape(-1)
    k = chosen[:, pairs[:, 1]].reshape(-1)
    ok = (j >= 0) & (k >= 0)
    a, j, k = a[ok], j[ok], k[ok]
    hashes = encode_hash(
        peaks.bins_fine[a],
        peaks.bins_fine[j] - peaks.bins_fine[a],
        peaks.bins_fine[k] - peaks.bins_fine[a],
        peaks.frames_fine[j] - peaks.frames_fine[a],
        peaks.frames_fine[k] - peaks.frames_fine[a],
    )
    return Fingerprints(hashes, peaks.frames[a].astype(np.uint32))


def encode_hash(
    f1_bins: np.ndarray,
    df2_bins: np.ndarray,
    df3_bins: np.ndarray,
    dt2_frames: np.ndarray,
    dt3_frames: np.ndarray,
) -> np.ndarray:
    """Pack triplet geometry into uint32 hashes (layout in the module docstring)."""
    band = np.clip(np.floor(f1_bins / BAND_WIDTH_BINS), 0, 7).astype(np.uint32)
    df2 = (np.clip(np.rint(df2_bins), -24, 24) + 24).astype(np.uint32)
    df3 = (np.clip(np.rint(df3_bins), -24, 24) + 24).astype(np.uint32)
    span = np.searchsorted(np.array(SPAN_EDGES_FRAMES, np.float64), dt3_frames, "left")
    ratio_real = dt2_frames / np.maximum(dt3_frames, 1e-9)
    ratio = np.clip(np.floor(ratio_real * RATIO_LEVELS), 0, RATIO_LEVELS - 1).astype(np.uint32)
    return (
        (band << (2 * DF_BITS + SPAN_BITS + RATIO_BITS))
        | (df2 << (DF_BITS + SPAN_BITS + RATIO_BITS))
        | (df3 << (SPAN_BITS + RATIO_BITS))
        | (span.astype(np.uint32) << RATIO_BITS)
        | ratio
    ).astype(np.uint32)


# ---------------------------------------------------------------------------------------------
# Streaming driver


class StreamingFingerprinter:
    """Feeds chunks of any size; returns the hashes that are final. Memory stays bounded."""

    def __init__(self, params: FingerprintParams = QUERY) -> None:
        self.params = params
        self._samples = np.zeros(0, np.float32)  # from the start of the next frame on
        self._power = np.zeros((0, BIN_COUNT), np.float32)  # rows from frame _power_first on
        self._power_first = 0
        self._spec = np.zeros((0, BIN_COUNT), np.float32)  # rows from frame _spec_first on
        self._spec_first = 0
        self._frames_total = 0  # frames computed so far
        self._spec_until = 0  # smoothed rows exist for frames < this
        self._candidates_until = 0  # candidates final for frames < this
        self._candidates = Peaks.empty()
        self._peaks_until = 0  # peaks final for frames < this
        self._peaks = Peaks.empty()
        self._anchors_done = 0  # index in _peaks of the next anchor
        self._final_until = 0  # every hash anchored before this frame has been returned
        self._finished = False

    @property
    def frames_total(self) -> int:
        """Complete frames seen since the start of the stream."""
        return self._frames_total

    @property
    def final_until(self) -> int:
        """Every hash anchored before this frame has been returned; later ones may still come."""
        return self._final_until

    def feed(self, samples: np.ndarray) -> Fingerprints:
        """Consume mono float32 samples at SAMPLE_RATE_HZ; return newly final hashes."""
        assert not self._finished, "feed after flush"
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._samples = np.concatenate([self._samples, samples])
        new_rows = band_power(self._samples)
        self._samples = self._samples[len(new_rows) * HOP_SAMPLES :]
        self._power = np.concatenate([self._power, new_rows])
        self._frames_total += len(new_rows)
        self._smooth(self._frames_total - 1)  # the newest frame waits for its successor
        return self._advance(final=False)

    def flush(self) -> Fingerprints:
        """End of stream: decide everything still pending; the fingerprinter is then spent."""
        self._smooth(self._frames_total)
        out = self._advance(final=True)
        self._finished = True
        return out

    def _smooth(self, until: int) -> None:
        if until <= self._spec_until:
            return
        rows = smooth_to_db(
            self._power, self._power_first, self._spec_until, until, self._frames_total
        )
        self._spec = np.concatenate([self._spec, rows])
        self._spec_until = until
        drop = until - 1 - self._power_first  # keep the row before the next one to smooth
        if drop > 0:
            self._power = self._power[drop:]
            self._power_first += drop

    def _advance(self, final: bool) -> Fingerprints:
        total = self._spec_until
        cand_until = total if final else total - PEAK_NEIGHBOUR_FRAMES
        if cand_until > self._candidates_until:
            self._add_candidates(cand_until)
        peaks_until = (
            self._candidates_until if final else (self._candidates_until - RANK_HALF_WIDTH_FRAMES)
        )
        if peaks_until > self._peaks_until:
            self._add_peaks(peaks_until)
        anchors_until = self._peaks_until if final else self._peaks_until - TARGET_DT_MAX_FRAMES
        return self._emit(anchors_until, final)

    def _add_candidates(self, until: int) -> None:
        lo = self._candidates_until - self._spec_first
        hi = until - self._spec_first
        found = find_candidates(self._spec, self._spec_first, lo, hi)
        self._candidates = Peaks.concat([self._candidates, found])
        self._candidates_until = until
        keep_from = until - PEAK_NEIGHBOUR_FRAMES - 1 - self._spec_first
        if keep_from > 0:
            self._spec = self._spec[keep_from:]
            self._spec_first += keep_from

    def _add_peaks(self, until: int) -> None:
        chosen = select_peaks(
            self._candidates, self._peaks_until, until, self.params.peaks_per_window_max
        )
        self._peaks = Peaks.concat([self._peaks, chosen])
        self._peaks_until = until
        old = self._candidates.frames < until - RANK_HALF_WIDTH_FRAMES
        self._candidates = self._candidates.take(~old)

    def _emit(self, anchors_until: int, final: bool) -> Fingerprints:
        frames = self._peaks.frames
        hi = len(frames) if final else int(np.searchsorted(frames, anchors_until, "left"))
        out = triplet_hashes(self._peaks, self._anchors_done, hi, self.params.targets_max)
        self._anchors_done = max(self._anchors_done, hi)
        self._final_until = self._frames_total if final else max(self._final_until, anchors_until)
        # Peaks before the oldest pending anchor are no longer needed.
        drop = self._anchors_done
        if drop > 0:
            self._peaks = self._peaks.take(slice(drop, None))
            self._anchors_done -= drop
        return out


def fingerprint(samples: np.ndarray, params: FingerprintParams = QUERY) -> Fingerprints:
    """Fingerprint a whole signal: the same hashes as streaming it in chunks."""
    engine = StreamingFingerprinter(params)
    return Fingerprints.concat([engine.feed(samples), engine.flush()])


def fingerprint_in_chunks(
    samples: np.ndarray, params: FingerprintParams = QUERY, chunk_samples: int = SAMPLE_RATE_HZ
) -> tuple[Fingerprints, int]:
    """Feed a signal in chunks (1 s by default), as capture does: (hashes, frames seen)."""
    engine = StreamingFingerprinter(params)
    parts = [
        engine.feed(samples[i : i + chunk_samples]) for i in range(0, len(samples), chunk_samples)
    ]
    parts.append(engine.flush())
    return Fingerprints.concat(parts), engine.frames_total
