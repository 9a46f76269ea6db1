"""'Is it distributed?': a topology report from synthesized CloudFormation templates.

Reads templates only (never imports aws_cdk). Run `python -m topology_report --help`.
"""
