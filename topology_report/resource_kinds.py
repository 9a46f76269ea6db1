"""What every CloudFormation resource type does, read from the CloudFormation resource schemas:
it runs work (compute), holds state (data), routes traffic (network), or supports the others
(support: permissions, logs, alarms, configuration, tags ...). The report judges a type that
has no specific rule by this kind: one that runs work or holds state is judged by its
placement and count (generic.py).

The table is generated from the resource schemas that cfn-lint ships (a test-time
dependency; the report itself reads only the committed table, resource_kinds.txt):

    python -m topology_report.resource_kinds      # rewrites resource_kinds.txt

Each type is classified by the first of these that decides: the explicit OVERRIDES (where
the schema misleads), the report's own catalog (catalog.py), a sub-resource name that only
configures another resource (SubnetGroup, Policy, Association ...), the service the type
belongs to, and its schema's properties: sizes and counts (InstanceType, InstanceCount,
DesiredCount, MinSize, NodeCount ...) for compute, storage (AllocatedStorage, Engine,
StorageCapacity ...) for data, and no property that places, sizes or stores anything for
support. A type none of these decides is unclassified (a test keeps that at 0).

A type's row also says whether its schema can place or count it (subnets, AZs, Multi-AZ,
zone awareness, counts): "placed". A compute or data type that cannot be placed or counted is
run by AWS where it chooses (managed)."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from .catalog import ANALYSED, MANAGED, SUPPORT_PREFIXES, SUPPORT_TYPES

TABLE = Path(__file__).with_name("resource_kinds.txt")
TF_TABLE = Path(__file__).with_name("terraform_kinds.txt")  # the AWS provider's types (terraform_kinds.py)
KINDS = ("compute", "data", "network", "support")
# The kinds the generic layer (generic.py) judges by placement and count.
JUDGED_KINDS = frozenset({"compute", "data"})

# Where the schema misleads: type -> (kind, why).
OVERRIDES: dict[str, tuple[str, str]] = {
    "AWS::SageMaker::Endpoint": ("compute", "serves a model's inferences"),
    "AWS::DMS::ReplicationInstance": ("compute", "runs a migration's replication"),
    "AWS::DMS::Endpoint": ("support", "connection settings of a replication instance"),
    "AWS::DMS::ReplicationTask": ("support", "a task run by a replication instance"),
    "AWS::Cloud9::EnvironmentEC2": ("support", "a developer's IDE, not part of a service"),
    "AWS::CodeBuild::Project": ("support", "builds at deploy time, serves nothing"),
    "AWS::ImageBuilder::Image": ("support", "builds an image at deploy time"),
    "AWS::ImageBuilder::ImagePipeline": ("support", "builds images at deploy time"),
    "AWS::ImageBuilder::InfrastructureConfiguration": ("support", "configures image builds"),
    "AWS::EC2::LaunchTemplate": ("support", "configures instances launched elsewhere"),
    "AWS::EC2::Volume": ("support", "an instance's disk, judged with its instance"),
    "AWS::EC2::NetworkInterface": ("support", "an instance's network card"),
    "AWS::EC2::Host": ("compute", "a dedicated host in one AZ"),
    "AWS::Lightsail::Database": ("data", "a Lightsail managed database"),
    "AWS::EC2::EC2Fleet": ("compute", "a fleet of instances"),
    "AWS::EC2::SpotFleet": ("compute", "a fleet of Spot instances"),
    "AWS::APS::Scraper": ("compute", "scrapes metrics for a Prometheus workspace"),
    "AWS::EC2::CapacityReservation": ("support", "reserves capacity, runs nothing"),
    "AWS::Backup::BackupVault": ("support", "backups: recovery, not a run-time tier"),
    "AWS::Greengrass::Group": ("support", "configuration of an IoT core device"),
    "AWS::GameLift::Fleet": ("compute", "game servers"),
    "AWS::AutoScalingPlans::ScalingPlan": ("support", "scales other resources"),
    "AWS::EKS::Cluster": ("compute", "the Kubernetes control plane (AWS runs it over AZs)"),
    "AWS::ElasticBeanstalk::Environment": ("compute", "runs the app on the Auto Scaling group "
                                           "and load balancer Beanstalk creates"),
}
# Types placed and counted by generic option settings (Namespace, OptionName, Value) that the
# schema does not name: aws:autoscaling:asg MinSize, aws:ec2:vpc Subnets, EnvironmentType.
PLACED_BY_OPTIONS = frozenset({"AWS::ElasticBeanstalk::Environment"})

# A sub-resource that only configures or connects another one (by the end of its name).
SUPPORT_SUFFIXES = (
    "SubnetGroup", "ParameterGroup", "OptionGroup", "SecurityGroup", "Policy", "Permission",
    "Permissions", "Association", "Associations", "Attachment", "Configuration", "Config",
    "Version", "Alias", "Tag", "Tags", "Role", "Profile", "Rule", "RuleGroup", "Template",
    "Definition", "DefinitionVersion", "Subscription", "Notification", "Schedule",
    "Setting", "Settings", "Account", "Member", "Invitation", "Preferences", "Trigger",
    "Dashboard", "Alarm", "Monitor", "Metric", "MetricFilter", "Destination", "Secret",
    "Certificate", "Key", "KeyPair", "User", "UserGroup", "Group", "ACL", "Webhook",
    "Integration", "Deployment", "Stage", "Resource", "Method", "Model", "Authorizer",
    "Document", "Parameter", "Plan", "Selection", "Report", "ReportDefinition", "Dataset",
    "Filter", "Insight", "Budget", "Connection", "Connector", "Recipe", "Workflow",
    "Pipeline", "Application", "Project", "Repository", "Channel", "Snapshot", "Backup",
    "Action", "Exclusion", "Reservation", "Analysis", "StatusCheck", "Quota", "Experiment",
    "Task", "Job", "Session", "Control", "Domain", "Volume", "Disk", "Provider",
    "Options", "Pool", "Scope", "Cidr", "Path", "Token", "Window", "Export", "Image",
    "Discovery",
)

# The service decides for what the steps before it left.
SERVICE_KINDS: dict[str, str] = {
    # hold state
    "RDS": "data", "DynamoDB": "data", "Redshift": "data", "RedshiftServerless": "data",
    "Neptune": "data", "NeptuneGraph": "data", "DocDB": "data", "DocDBElastic": "data",
    "ElastiCache": "data", "MemoryDB": "data", "DAX": "data", "Timestream": "data",
    "Cassandra": "data", "QLDB": "data", "S3": "data", "S3Express": "data",
    "S3Outposts": "data", "S3Tables": "data", "S3Vectors": "data", "EFS": "data", "FSx": "data",
    "Kinesis": "data", "KinesisFirehose": "data", "KinesisAnalyticsV2": "compute",
    "MSK": "data", "AmazonMQ": "data", "OpenSearchService": "data", "Elasticsearch": "data",
    "OpenSearchServerless": "data", "SQS": "data", "SNS": "data", "SDB": "data",
    "DirectoryService": "data", "Glacier": "data", "StorageGateway": "data",
    "SimpleDB": "data", "HealthLake": "data", "Aurora": "data", "DSQL": "data",
    # run work
    "ECS": "compute", "EKS": "compute", "Batch": "compute",
    "EMR": "compute", "EMRServerless": "compute", "EMRContainers": "compute",
    "Lambda": "compute", "AppRunner": "compute", "ElasticBeanstalk": "compute",
    "Lightsail": "compute", "SageMaker": "compute", "GameLift": "compute",
    "MWAA": "compute", "AppStream": "compute", "WorkSpaces": "compute",
    "OpsWorks": "compute", "StepFunctions": "compute", "Glue": "compute",
    "Deadline": "compute", "PCS": "compute", "ParallelCluster": "compute",
    "AutoScaling": "compute", "MediaLive": "compute", "Outposts": "compute",
    "BedrockAgentCore": "compute", "Comprehend": "compute", "Grafana": "compute",
    "WorkspacesInstances": "compute", "CloudHSM": "data", "ODB": "data", "APS": "data",
    "Kendra": "data", "QBusiness": "data", "S3Files": "data",
    # route traffic
    "ElasticLoadBalancing": "network", "ElasticLoadBalancingV2": "network",
    "CloudFront": "network", "ApiGateway": "network", "ApiGatewayV2": "network",
    "Route53": "network", "Route53Resolver": "network", "GlobalAccelerator": "network",
    "AppMesh": "network", "VpcLattice": "network", "NetworkFirewall": "network",
    "DirectConnect": "network", "NetworkManager": "network", "AppSync": "network",
    "Route53RecoveryControl": "network", "Route53RecoveryReadiness": "network",
    "Route53Profiles": "network", "EC2": "network", "MediaConnect": "network",
    "Transfer": "network", "RTBFabric": "network", "RefactorSpaces": "network",
    "SES": "network",
    # deploy-time and tooling services
    "CodeBuild": "support", "CodeConnections": "support", "CloudFormation": "support",
    "SecurityAgent": "support",
}

# Properties (at any depth of the schema) that size or count what runs.
COMPUTE_PROPS = frozenset({
    "InstanceType", "InstanceTypes", "InstanceCount", "DesiredCount", "DesiredCapacity",
    "DesiredSize", "MinSize", "MaxSize", "MinCapacity", "MaxvCpus", "NumberOfWorkers",
    "WorkerType", "ComputeResources", "InstanceClass", "ContainerServiceDeployment",
    "ProvisionedConcurrency", "MinWorkers", "MaxWorkers", "Replicas",
})
# Properties that store data.
DATA_PROPS = frozenset({
    "AllocatedStorage", "StorageCapacity", "StorageType", "DBInstanceClass", "NodeType",
    "NumCacheNodes", "BackupRetentionPeriod", "SnapshotRetentionLimit", "RetentionPeriod",
    "StorageEncrypted", "Engine", "VolumeSize", "StorageSize", "DiskSize",
})
# Properties that place or count a resource: a schema with none of them cannot be put in one
# AZ or made one of a kind by its template.
PLACEMENT_PROPS = frozenset({
    "SubnetId", "SubnetIds", "Subnets", "Ec2SubnetId", "Ec2SubnetIds", "AvailabilityZone",
    "AvailabilityZones", "AvailabilityZoneName", "PreferredAvailabilityZone",
    "PreferredAvailabilityZones", "MultiAZ", "MultiAz", "ZoneAwarenessEnabled",
    "InstanceCount", "NodeCount", "NumberOfNodes", "NumCacheNodes", "Replicas",
    "ReplicaCount", "DesiredCount", "DesiredCapacity", "DesiredSize", "MinSize",
    "NumberOfBrokerNodes", "DeploymentMode", "DeploymentType", "ClusterType",
})
SIZE_OR_STORE = COMPUTE_PROPS | DATA_PROPS | PLACEMENT_PROPS | {"VpcConfig", "VpcSettings",
                                                               "VpcId", "NetworkConfiguration"}


def _catalog_kind(rtype: str) -> tuple[str, str] | None:
    tier = ANALYSED.get(rtype) or (MANAGED.get(rtype) or (None,))[0]
    if tier:
        kind = {"compute": "compute", "data": "data", "storage": "data"}.get(tier, "network")
        if tier == "nested":
            kind = "support"
        return kind, f"the report's catalog ({tier})"
    if rtype in SUPPORT_TYPES or rtype.startswith(SUPPORT_PREFIXES):
        return "support", "the report's catalog (support)"
    return None


def classify_schema(rtype: str, props: set[str]) -> tuple[str, str] | None:
    """(kind, why) of a resource type from its name and its schema's property names, or
    None when nothing decides."""
    if rtype in OVERRIDES:
        return OVERRIDES[rtype]
    decided = _catalog_kind(rtype)
    if decided:
        return decided
    parts = rtype.split("::")
    service, name = (parts[1], parts[-1]) if len(parts) >= 3 else ("", rtype)
    if name.endswith(SUPPORT_SUFFIXES):
        return "support", f"a {name} configures or connects another resource"
    if service in SERVICE_KINDS:
        kind = SERVICE_KINDS[service]
        # a service's sub-resource with nothing to size, store or place only configures
        if kind != "network" and not props & SIZE_OR_STORE:
            return "support", f"{service}: its schema has nothing that runs, stores or places"
        return kind, f"the {service} service"
    if props & COMPUTE_PROPS:
        return "compute", "its schema sizes or counts what runs (" + \
            ", ".join(sorted(props & COMPUTE_PROPS)[:3]) + ")"
    if props & DATA_PROPS:
        return "data", "its schema stores data (" + ", ".join(sorted(props & DATA_PROPS)[:3]) + ")"
    if not props & SIZE_OR_STORE:
        return "support", "its schema has nothing that runs, stores or places"
    return None


# --- the committed table ---------------------------------------------------------------------

def _read(path: Path) -> dict[str, tuple[str, bool]]:
    out = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        rtype, kind, placed = line.split()
        out[rtype] = (kind, placed == "placed")
    return out


@functools.lru_cache(maxsize=1)
def table() -> dict[str, tuple[str, bool]]:
    """type -> (kind, placed) from resource_kinds.txt."""
    return _read(TABLE)


@functools.lru_cache(maxsize=1)
def tf_table() -> dict[str, tuple[str, bool]]:
    """Terraform type -> (kind, placed) from terraform_kinds.txt (the AWS provider's types)."""
    return _read(TF_TABLE)


def _entry(rtype: str) -> tuple[str, bool] | None:
    return tf_table().get(rtype) if rtype.startswith("aws_") else table().get(rtype)


def kind_of(rtype: str) -> str | None:
    """compute, data, network or support; None for a type the schemas do not know. A
    Terraform type (aws_...) is one the translation keeps as it is (terraform_types.py)."""
    entry = _entry(rtype)
    return entry[0] if entry else None


def placeable(rtype: str) -> bool:
    entry = _entry(rtype)
    return bool(entry and entry[1])


# --- generating it from the schemas ----------------------------------------------------------

def _schema_props(schema: dict) -> set[str]:
    defs = schema.get("definitions") or {}
    names: set[str] = set()
    seen: set[str] = set()

    def walk(node: object, depth: int = 0) -> None:
        if depth > 8 or not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            key = ref.rsplit("/", 1)[-1]
            if key in defs and key not in seen:
                seen.add(key)
                walk(defs[key], depth + 1)
        for k, v in (node.get("properties") or {}).items():
            names.add(k)
            walk(v, depth + 1)
        for key in ("items", "oneOf", "anyOf", "allOf"):
            v = node.get(key)
            for x in (v if isinstance(v, list) else [v]):
                walk(x, depth + 1)

    walk(schema)
    return names


def schema_dir() -> Path:
    import cfnlint  # a test-time dependency: only the generator reads the schemas
    return Path(cfnlint.__file__).parent / "data" / "schemas"


def schemas(region: str = "us-east-1") -> dict[str, set[str]]:
    """type -> its schema's property names, for every type of ``region``."""
    base = schema_dir()
    provider = json.loads((base / "providers" / f"{region}.json").read_text())
    return {rtype: _schema_props(json.loads((base / "resources" / f"{digest}.json")
                                            .read_text()))
            for rtype, digest in provider.items()}


def generate() -> tuple[str, list[str]]:
    """The table's text and the types nothing classified."""
    rows, unclassified = [], []
    for rtype, props in sorted(schemas().items()):
        decided = classify_schema(rtype, props)
        if decided is None:
            unclassified.append(rtype)
            continue
        placed = bool(props & PLACEMENT_PROPS) or rtype in PLACED_BY_OPTIONS
        rows.append(f"{rtype} {decided[0]} {'placed' if placed else '-'}")
    head = ("# Generated by `python -m topology_report.resource_kinds` from the CloudFormation "
            "resource schemas\n# (us-east-1) that cfn-lint ships: type, kind (compute, data, "
            "network, support), and\n# whether its schema can place or count it.\n")
    return head + "\n".join(rows) + "\n", unclassified


def main() -> int:
    try:
        text, unclassified = generate()
    except ImportError:
        print("error: the generator reads cfn-lint's resource schemas: install cfn-lint "
              "(requirements-dev.txt)", file=sys.stderr)
        return 2
    return write_table(TABLE, text, unclassified)


def write_table(path: Path, text: str, unclassified: list[str]) -> int:
    """A generator's end: the table written, or exit 2 naming the types nothing classified."""
    if unclassified:
        print(f"error: {len(unclassified)} types no rule classifies: "
              f"{', '.join(unclassified[:20])}", file=sys.stderr)
        return 2
    path.write_text(text)
    print(f"wrote {path} ({text.count(chr(10)) - 3} types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
