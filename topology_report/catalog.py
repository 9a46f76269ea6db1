"""What the report does with each resource type: one table, so that nothing vanishes.

- ANALYSED: types with rules in network.py, compute.py or data.py (tier they belong to).
- MANAGED: services that AWS runs across AZs by themselves: listed in their tier as
  "managed, distributed by nature", never a single point of failure.
- SUPPORT: types that hold no state and serve no traffic at run time (permissions, logs,
  alarms, configuration, deploy-time helpers): not part of the topology, not listed.
- anything else is UNANALYSED: listed by type and logical ID in the text and JSON, and the
  verdict says it could not see them (it never says DISTRIBUTED over them).
"""

from __future__ import annotations

ANALYSED: dict[str, str] = {
    "AWS::EC2::Instance": "compute",
    "AWS::AutoScaling::AutoScalingGroup": "compute",
    "AWS::ECS::Service": "compute",
    "AWS::Lambda::Function": "compute",
    "AWS::Serverless::Function": "compute",  # SAM: expanded as a Lambda function
    "AWS::AppRunner::Service": "compute",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load balancing",
    "AWS::ElasticLoadBalancing::LoadBalancer": "load balancing",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "load balancing",
    "AWS::RDS::DBInstance": "data",
    "AWS::RDS::DBCluster": "data",
    "AWS::RDS::DBProxy": "data",
    "AWS::DocDB::DBCluster": "data",
    "AWS::DocDB::DBInstance": "data",
    "AWS::Neptune::DBCluster": "data",
    "AWS::Neptune::DBInstance": "data",
    "AWS::ElastiCache::CacheCluster": "data",
    "AWS::ElastiCache::ReplicationGroup": "data",
    "AWS::MemoryDB::Cluster": "data",
    "AWS::OpenSearchService::Domain": "data",
    "AWS::Elasticsearch::Domain": "data",
    "AWS::AmazonMQ::Broker": "data",
    "AWS::S3::Bucket": "storage",
    "AWS::EFS::FileSystem": "storage",
    "AWS::CloudFront::Distribution": "edge",
    "AWS::CloudFront::VpcOrigin": "edge",
    "AWS::EC2::NatGateway": "network egress",
    "AWS::EC2::VPCEndpoint": "network egress",
    "AWS::EC2::Subnet": "network egress",
    "AWS::EC2::RouteTable": "network egress",
    "AWS::EC2::Route": "network egress",
    "AWS::EC2::SubnetRouteTableAssociation": "network egress",
    "AWS::CloudFormation::Stack": "nested",  # followed when its template is a local file
}

# type -> (tier, what it is)
MANAGED: dict[str, tuple[str, str]] = {
    "AWS::DynamoDB::Table": ("data", "DynamoDB table"),
    "AWS::DynamoDB::GlobalTable": ("data", "DynamoDB global table"),
    "AWS::Serverless::SimpleTable": ("data", "DynamoDB table (SAM SimpleTable)"),
    "AWS::ElastiCache::ServerlessCache": ("data", "ElastiCache Serverless cache"),
    "AWS::SQS::Queue": ("data", "SQS queue"),
    "AWS::SNS::Topic": ("data", "SNS topic"),
    "AWS::Kinesis::Stream": ("data", "Kinesis data stream"),
    "AWS::Events::EventBus": ("data", "EventBridge event bus"),
    "AWS::StepFunctions::StateMachine": ("compute", "Step Functions state machine"),
    "AWS::Serverless::StateMachine": ("compute", "Step Functions state machine (SAM)"),
    "AWS::ApiGateway::RestApi": ("edge", "API Gateway REST API"),
    "AWS::ApiGatewayV2::Api": ("edge", "API Gateway HTTP/WebSocket API"),
    "AWS::Serverless::Api": ("edge", "API Gateway REST API (SAM)"),
    "AWS::Serverless::HttpApi": ("edge", "API Gateway HTTP API (SAM)"),
    "AWS::Lambda::Url": ("edge", "Lambda function URL"),
    "AWS::Cognito::UserPool": ("data", "Cognito user pool"),
    # AWS requires two subnets in two AZs and runs a domain controller in each
    "AWS::DirectoryService::SimpleAD": ("data", "Simple AD directory"),
    "AWS::DirectoryService::MicrosoftAD": ("data", "AWS Managed Microsoft AD directory"),
    "AWS::ECR::Repository": ("storage", "ECR repository"),
}

SUPPORT_PREFIXES = (
    "AWS::IAM::", "AWS::Logs::", "AWS::CloudWatch::", "AWS::SSM::", "AWS::SecretsManager::",
    "AWS::KMS::", "AWS::Route53::", "AWS::CertificateManager::", "AWS::WAFv2::",
    "AWS::Events::Rule", "AWS::CDK::", "AWS::ApplicationAutoScaling::", "AWS::ServiceDiscovery::",
    "AWS::ApiGateway::", "AWS::ApiGatewayV2::", "AWS::Scheduler::", "AWS::Budgets::",
    "Custom::", "AWS::CloudFormation::CustomResource", "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::Macro", "AWS::CodeDeploy::", "AWS::Cognito::", "AWS::SSO::",
)
SUPPORT_TYPES = {
    "AWS::EC2::VPC", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::EIP", "AWS::EC2::EIPAssociation", "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::LaunchTemplate", "AWS::EC2::NetworkAcl", "AWS::EC2::NetworkAclEntry",
    "AWS::EC2::SubnetNetworkAclAssociation", "AWS::EC2::FlowLog", "AWS::EC2::KeyPair",
    "AWS::EC2::EgressOnlyInternetGateway", "AWS::EC2::VPCCidrBlock",
    "AWS::EC2::SubnetCidrBlock", "AWS::EC2::NetworkInterface", "AWS::EC2::PrefixList",
    "AWS::EC2::Volume", "AWS::EC2::VolumeAttachment", "AWS::EC2::PlacementGroup",
    "AWS::AutoScaling::LaunchConfiguration", "AWS::AutoScaling::ScalingPolicy",
    "AWS::AutoScaling::ScheduledAction", "AWS::AutoScaling::LifecycleHook",
    "AWS::AutoScaling::WarmPool",
    "AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::ListenerCertificate",
    "AWS::ECS::Cluster", "AWS::ECS::TaskDefinition", "AWS::ECS::CapacityProvider",
    "AWS::ECS::ClusterCapacityProviderAssociations",
    "AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Version",
    "AWS::Lambda::Alias", "AWS::Lambda::LayerVersion", "AWS::Lambda::EventInvokeConfig",
    "AWS::Serverless::LayerVersion",
    "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBClusterParameterGroup", "AWS::RDS::OptionGroup",
    "AWS::RDS::DBProxyTargetGroup", "AWS::RDS::DBProxyEndpoint",
    "AWS::DocDB::DBSubnetGroup", "AWS::DocDB::DBClusterParameterGroup",
    "AWS::Neptune::DBSubnetGroup", "AWS::Neptune::DBClusterParameterGroup",
    "AWS::Neptune::DBParameterGroup",
    "AWS::ElastiCache::SubnetGroup", "AWS::ElastiCache::ParameterGroup",
    "AWS::ElastiCache::User", "AWS::ElastiCache::UserGroup", "AWS::ElastiCache::SecurityGroup",
    "AWS::MemoryDB::SubnetGroup", "AWS::MemoryDB::ParameterGroup", "AWS::MemoryDB::ACL",
    "AWS::MemoryDB::User",
    "AWS::AmazonMQ::Configuration", "AWS::AmazonMQ::ConfigurationAssociation",
    "AWS::EFS::MountTarget", "AWS::EFS::AccessPoint",
    "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy", "AWS::DynamoDB::TableResource",
    "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::CloudFrontOriginAccessIdentity",
    "AWS::CloudFront::CachePolicy", "AWS::CloudFront::OriginRequestPolicy",
    "AWS::CloudFront::ResponseHeadersPolicy", "AWS::CloudFront::Function",
}


def classify(rtype: str) -> str:
    """"analysed", "managed", "support" or "unanalysed"."""
    if rtype in ANALYSED:
        return "analysed"
    if rtype in MANAGED:
        return "managed"
    if rtype in SUPPORT_TYPES or rtype.startswith(SUPPORT_PREFIXES):
        return "support"
    return "unanalysed"
