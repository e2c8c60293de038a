"""Peak memory of a stretch of work (CUDA's allocator peak on a GPU, sampled RSS on the CPU), and the device
synchronisation a timer of GPU work needs.

torch's CPU tensors live outside Python's allocator (tracemalloc does not see them), so on the
CPU the process's resident set is sampled by a background thread every few milliseconds.
"""

from __future__ import annotations

import threading

import psutil
import torch


class PeakMemory:
    def __init__(self, device: torch.device, interval_s: float = 0.003) -> None:
        self.device = device
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc = psutil.Process()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._proc.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak_bytes = self._proc.memory_info().rss
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._proc.memory_info().rss)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer read next counts it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
