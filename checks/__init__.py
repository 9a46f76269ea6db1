"""Tools engineers, CI and reviewers run on the synthesized cloud assembly:
synth summary, cfn-lint, snapshots. No AWS access anywhere."""
