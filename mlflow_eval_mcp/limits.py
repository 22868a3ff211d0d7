"""The defaults and limits the library applies, in one place: every front end advertises these
values (in a tool's schema, in a command's help) rather than restating them."""

SEARCH_PAGE_SIZE = 20
"""Traces per page of a search."""
MAX_SEARCH_PAGE_SIZE = 500
MAX_TRACES = 500
"""Newest traces an analysis reads."""
MAX_TRACES_LIMIT = 50_000
FINDING_PAGE_SIZE = 50
"""Traces per page of a finding."""
MAX_FINDING_PAGE_SIZE = 500
MAX_CASES = 50
"""Most cases in a generated dataset, synthetic ones included."""
MAX_RECORD_MB = 32
"""Larger import records are skipped with a reason."""
VALIDATION_TIMEOUT_S = 600
"""Seconds before a suite's validation run is killed."""
MIN_LABELS = 20
"""Human labels an LLM judge needs before its gate may fail a run."""
MIN_KAPPA = 0.6
"""Cohen's kappa with people an LLM judge needs before its gate may fail a run ("substantial" agreement)."""
