import numpy as np

def adam_rows(
    param: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    rows: np.ndarray,
    grad: np.ndarray,
    lr_t: float,
    beta1: float,
    beta2: float,
    eps: float,
    /,
) -> None: ...
