"""Reusable L3 constructs ("patterns", as the CDK docs call level-3 constructs).

Named `patterns` and not `constructs`: a local package called `constructs` would
shadow the `constructs` library that aws-cdk-lib imports, and synth would break.
"""
