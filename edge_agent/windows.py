"""Cut a stream's hashes into fixed windows as they become final: the streaming side of batching.

Pure: numpy only. A window [first_frame, first_frame + window_frames) is emitted once the
fingerprinter has returned every hash anchored before its end (StreamingFingerprinter.final_until),
so each hash lands in exactly one window and none is lost or duplicated at a boundary. At the end
of a stream, `finish` emits what is left, the last window shorter. The windows equal those of
batch.batches_from_fingerprints over the whole stream (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.batch import WINDOW_FRAMES, WINDOW_FRAMES_MAX
from edge_agent.fingerprint import Fingerprints


@dataclass(frozen=True)
class Window:
    """One window's hashes, frames relative to the start of the stream the cutter follows."""

    first_frame: int
    window_frames: int
    fingerprints: Fingerprints

    @property
    def frame_end(self) -> int:
        """The first frame after the window."""
        return self.first_frame + self.window_frames


class WindowCutter:
    """Holds hashes until their window is complete; memory is bounded by one window's worth."""

    def __init__(self, window_frames: int = WINDOW_FRAMES, frame_start: int = 0) -> None:
        assert 1 <= window_frames <= WINDOW_FRAMES_MAX, window_frames
        self.window_frames = window_frames
        self._next_first = frame_start
        self._pending: list[Fingerprints] = []

    @property
    def next_first_frame(self) -> int:
        """Where the next window starts."""
        return self._next_first

    def add(self, fingerprints: Fingerprints, final_until: int) -> list[Window]:
        """Take newly final hashes; return every window that ends at or before `final_until`."""
        if len(fingerprints):
            assert int(fingerprints.anchor_frames.min()) >= self._next_first, "hash before window"
            self._pending.append(fingerprints)
        windows = []
        while self._next_first + self.window_frames <= final_until:
            windows.append(self._take(self.window_frames))
        return windows

    def finish(self, frame_end: int) -> list[Window]:
        """End of stream at `frame_end`: every remaining window, the last one possibly shorter."""
        windows = []
        while self._next_first < frame_end:
            windows.append(self._take(min(self.window_frames, frame_end - self._next_first)))
        assert not self._pending or not any(len(p) for p in self._pending), "hash past the end"
        self._pending = []
        return windows

    def _take(self, window_frames: int) -> Window:
        """Pop the hashes of the window starting at _next_first."""
        first = self._next_first
        end = first + window_frames
        held = Fingerprints.concat(self._pending) if self._pending else Fingerprints.empty()
        inside = held.anchor_frames < end
        window = Window(
            first, window_frames, Fingerprints(held.hashes[inside], held.anchor_frames[inside])
        )
        rest = Fingerprints(held.hashes[~inside], held.anchor_frames[~inside])
        self._pending = [rest] if len(rest) else []
        self._next_first = end
        return window
