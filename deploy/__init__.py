"""Running ``make grade`` on machines other than this one (see docs/grading-at-scale.md)."""
