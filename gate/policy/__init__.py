"""The policy: loading and validating the YAML, and evaluating it into verdicts."""
