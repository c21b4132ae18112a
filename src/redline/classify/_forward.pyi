from collections.abc import Callable

import numpy as np

class Forward:
    def __init__(
        self,
        words: dict[str, bytes],
        fill: Callable[[str], bytes],
        keys: np.ndarray,
        key_cols: np.ndarray,
        base: int,
        max_n: int,
        skip_grams: bool,
        idf: np.ndarray,
        w1: np.ndarray,
        b1: np.ndarray,
        w2: np.ndarray,
        b2: np.ndarray,
        norm_floor: float,
    ) -> None: ...
    def __call__(self, tokens: list[str], dense_rows: np.ndarray | None, /) -> list[float]: ...
