"""Model names every floor reads in the `model` column."""

#: the baseline: always backtested (FVA is measured against it), it stands in for a failed fit, and reports
#: compare every model with it
BASELINE = "seasonal_naive"
