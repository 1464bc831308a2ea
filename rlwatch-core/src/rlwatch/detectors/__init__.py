"""Built-in detectors, in the order they are registered (and documented)."""

from __future__ import annotations

from rlwatch.detectors.advantage_variance import AdvantageVarianceDetector
from rlwatch.detectors.base import Detector, DetectorConfig
from rlwatch.detectors.degenerate_groups import DegenerateGroupsDetector
from rlwatch.detectors.entropy_collapse import EntropyCollapseDetector
from rlwatch.detectors.gradient_norm_spike import GradientNormSpikeDetector
from rlwatch.detectors.kl_explosion import KLExplosionDetector
from rlwatch.detectors.length_pathology import LengthPathologyDetector
from rlwatch.detectors.loss_nan import LossNaNDetector
from rlwatch.detectors.reward_hacking import RewardHackingDetector
from rlwatch.detectors.reward_mean_drift import RewardMeanDriftDetector
from rlwatch.detectors.stalled import StalledDetector

BUILTIN_DETECTORS: tuple[type[Detector], ...] = (
    EntropyCollapseDetector,
    KLExplosionDetector,
    RewardHackingDetector,
    AdvantageVarianceDetector,
    LossNaNDetector,
    GradientNormSpikeDetector,
    RewardMeanDriftDetector,
    DegenerateGroupsDetector,
    LengthPathologyDetector,
    StalledDetector,
)

__all__ = ["BUILTIN_DETECTORS", "Detector", "DetectorConfig"]
