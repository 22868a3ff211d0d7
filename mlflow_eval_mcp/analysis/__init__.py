"""The deterministic trace analysis engine: what is going wrong, found without an LLM."""
