"""Login rate limiting: at most `attempts` failed logins per (user name, client address) in a
sliding `window_s`; further attempts are refused without checking the password until the window
has room. Bounded memory: the oldest keys are dropped past `max_keys`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class LoginLimiter:
    def __init__(self, attempts: int = 5, window_s: float = 900.0, max_keys: int = 10_000) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        seen = self._failures.get(key)
        if seen is None:
            return deque()
        while seen and now - seen[0] >= self.window_s:
            seen.popleft()
        return seen

    def retry_after(self, user: str, address: str, now: float | None = None) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._recent((user.lower(), address), now)
            if len(seen) < self.attempts:
                return 0.0
            return max(0.0, self.window_s - (now - seen[0]))

    def failed(self, user: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = (user.lower(), address)
        with self._lock:
            seen = self._recent(key, now)
            seen.append(now)
            self._failures[key] = seen
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.lower(), address), None)
