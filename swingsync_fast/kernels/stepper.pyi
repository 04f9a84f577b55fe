import numpy as np
import numpy.typing as npt

USABLE: int
PHASE_BEGAN: int
SWING_ENDED: int
OUT_OF_ORDER: int
HAS_FAULTS: int

class Kernel:
    capacity: int
    def __init__(
        self,
        ring: npt.NDArray[np.float32],
        kpi_ring: npt.NDArray[np.float32],
        convention: int,
        aspect: float,
        right_handed: bool,
        min_visibility: float,
        limits: npt.NDArray[np.float64],
        spans: npt.NDArray[np.float64],
        tempo_low: float,
        tempo_high: float,
    ) -> None: ...
    def reset(self) -> None: ...
    def set_thresholds(
        self,
        limits: npt.NDArray[np.float64],
        spans: npt.NDArray[np.float64],
        tempo_low: float,
        tempo_high: float,
    ) -> None: ...
    def step(self, slot: int, frame: int, t: float) -> int: ...
    def close(self) -> int: ...
    @property
    def phase(self) -> int: ...
    @property
    def p_position(self) -> int: ...
    @property
    def swings(self) -> int: ...
    @property
    def has_address(self) -> bool: ...
    @property
    def event(self) -> tuple[int, int, float] | None: ...
    def kpis(self) -> npt.NDArray[np.float64]: ...
    def severities(self, out: npt.NDArray[np.float64]) -> None: ...
    def fault_severity(self, fault: int) -> float: ...
    def swing_record(self) -> dict[str, object]: ...
