"""Policy tests: YAML cases (image, evidence, expected decision) run through the policy engine.

``cases`` loads and validates test files, ``run`` evaluates every case with
``gate.policy.evaluate.evaluate`` (exactly what CI and admission would decide
for that evidence), ``render`` prints the results as text, JSON or JUnit.
"""
