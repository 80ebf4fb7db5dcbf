"""``[sentiment]`` settings: the scorer, its thresholds, calibration and retrained models."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SentimentSettings(BaseModel):
    """``[sentiment]``: which scorer runs and where its label thresholds sit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scorer: str = Field("default", description="entry point name in kuulo.scorers")
    negative_threshold: float = Field(-0.05, ge=-1, le=1, description="score <= this: negative")
    positive_threshold: float = Field(0.05, ge=-1, le=1, description="score >= this: positive")
    languages: tuple[str, ...] = Field(
        ("en",), description="languages the vader scorer runs on (the default routes en/fi)"
    )
    max_chars: int = Field(5000, ge=100, description="longer texts are cut before scoring")
    batch_size: int = Field(500, ge=1, le=10000, description="mentions scored per batch")
    calibration_min_corrections: int = Field(
        200, ge=10, description="corrected mentions per brand and language before a fit"
    )
    calibration_recall_target: float | None = Field(None, gt=0, le=1, description="neg. recall")
    auto_calibrate: bool = Field(True, description="refit brand thresholds from the tick")
    calibration_refit_every: int = Field(
        100, ge=1, description="further corrections (per brand and language) before a refit"
    )
    model_dir: Path = Field(
        Path("data/models"), description="retrained models and their active.json pointer"
    )
