"""Differential test: the report's YAML loader (short-form tags included) must read every
template as cfn-lint's template decoder does. cfn-lint is a test-only dependency."""

import json
from pathlib import Path

import pytest

from topology_report.loader import parse_template_text

decode = pytest.importorskip("cfnlint.decode").decode_str

CORPUS = Path(__file__).parent / "corpus"
TEMPLATES = sorted(CORPUS.glob("*.yaml")) + sorted((CORPUS / "children").glob("*.yaml"))
TEMPLATES = [p for p in TEMPLATES if p.name != "labels.yaml"]

SHORT_FORMS = """\
AWSTemplateFormatVersion: 2010-09-09
Conditions:
  A: !Equals [!Ref Env, prod]
  B: !Not [!Condition A]
  C: !And [!Condition A, !Or [!Condition B, !Equals [x, y]]]
Parameters:
  Env: {Type: String, Default: prod}
Mappings:
  M: {aws: {id: x}}
Resources:
  R:
    Type: AWS::S3::Bucket
    Condition: A
    Properties:
      BucketName: !Sub '${AWS::StackName}-${Env}'
      Tags:
        - {Key: a, Value: !GetAtt Other.Arn}
        - {Key: b, Value: !Join ['-', [!Ref Env, !Select [0, !GetAZs '']]]}
        - {Key: c, Value: !If [A, !Base64 x, !Ref 'AWS::NoValue']}
        - {Key: d, Value: !ImportValue {'Fn::Sub': 'net-${Env}'}}
        - {Key: e, Value: !FindInMap [M, !Ref 'AWS::Partition', id]}
        - {Key: f, Value: !Select [1, !Split [',', 'a,b']]}
        - {Key: g, Value: !Sub ['${X}', {X: !Ref Env}]}
        - {Key: h, Value: !GetAtt [Other, Arn]}
        - {Key: i, Value: !Cidr [10.0.0.0/16, 2, 8]}
  Other: {Type: AWS::SNS::Topic}
"""


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def _cfn_lint(text: str):
    template, matches = decode(text)
    assert not matches, [str(m) for m in matches]
    return _plain(template)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_the_loader_reads_the_corpus_as_cfn_lint_does(path):
    text = path.read_text()
    assert _plain(parse_template_text(text, str(path))) == _cfn_lint(text)


def test_every_short_form_is_read_as_cfn_lint_reads_it():
    assert _plain(parse_template_text(SHORT_FORMS, "short.yaml")) == _cfn_lint(SHORT_FORMS)
