# The starter stage's shape in Terraform (the twin of tests/snapshots/starter/ as far as
# the topology report is concerned): one app instance behind CloudFront (a VPC origin, no
# load balancer), a single-AZ PostgreSQL, a NAT instance, three buckets. Its single points
# of failure are the lone instance, the database and the NAT instance, by design.
#
# `scripts/terraform-plans.py` plans it offline (no AWS account: the skip_* settings below
# and dummy credentials) into examples/terraform/plans/starter.plan.json.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.82, < 6.0" # aws_cloudfront_vpc_origin
    }
  }
}

provider "aws" {
  region = "us-east-1"
  # An offline plan: no credentials check, no account lookup, no instance metadata.
  # Remove these three lines to plan against a real account.
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

variable "app_ami" {
  description = "the app hosts' arm64 image (placeholder: the plan does not look it up)"
  type        = string
  default     = "ami-0ae8605ed708e3c3e"
}

module "network" {
  source = "../modules/network"
  name   = "starter"
  azs    = ["us-east-1a", "us-east-1b"]
  nat    = "instance"
}

module "storage" {
  source = "../modules/storage"
  name   = "starter"
}

resource "aws_sns_topic" "alarms" {
  name = "starter-alarms"
}

resource "aws_security_group" "app" {
  name_prefix = "starter-app-"
  vpc_id      = module.network.vpc_id
}

resource "aws_instance" "app" {
  ami                  = var.app_ami
  instance_type        = "t4g.micro"
  subnet_id            = module.network.private_subnet_ids[0]
  vpc_security_group_ids = [aws_security_group.app.id]
  root_block_device {
    volume_size = 20
    volume_type = "gp3"
    encrypted   = true
  }
  metadata_options {
    http_tokens = "required"
  }
  tags = {
    Name = "starter-app"
    # What the report's capacity model needs (CloudFormation: Metadata.GameService).
    "TopologyReport:GameService" = "WorkersPerInstance=2 DbPoolSizePerWorker=10 DbMaxOverflowPerWorker=0 DbListenersPerWorker=1 AccessLogSampleRate=0.01 JobWorkerDbConnections=2"
  }
}

resource "aws_cloudwatch_metric_alarm" "app_recover" {
  alarm_name          = "starter-app-system-check"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  dimensions          = { InstanceId = aws_instance.app.id }
  # the recover action alone: a set with an unknown element (a topic ARN) is unknown as a
  # whole in a plan, and the report could not see that this alarm recovers the instance
  alarm_actions = ["arn:aws:automate:us-east-1:ec2:recover"]
  ok_actions    = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudfront_vpc_origin" "app" {
  vpc_origin_endpoint_config {
    name                   = "starter-app"
    arn                    = aws_instance.app.arn
    http_port              = 8000
    https_port             = 443
    origin_protocol_policy = "http-only"
    origin_ssl_protocols {
      items    = ["TLSv1.2"]
      quantity = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "s3" {
  name                              = "starter-s3"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "edge" {
  enabled = true
  comment = "starter"

  origin {
    origin_id                = "static"
    domain_name              = module.storage.static_bucket_domain
    origin_access_control_id = aws_cloudfront_origin_access_control.s3.id
  }
  origin {
    origin_id                = "media"
    domain_name              = module.storage.media_bucket_domain
    origin_access_control_id = aws_cloudfront_origin_access_control.s3.id
  }
  origin {
    origin_id   = "app"
    domain_name = aws_instance.app.private_dns
    vpc_origin_config {
      vpc_origin_id = aws_cloudfront_vpc_origin.app.id
    }
  }

  default_cache_behavior {
    target_origin_id       = "app"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # CachingDisabled
  }
  ordered_cache_behavior {
    path_pattern           = "/media/*"
    target_origin_id       = "media"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = "658327ea-f89d-4fab-a63d-7e88639e58f6" # CachingOptimized
  }
  default_root_object = "index.html"

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }
  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

resource "aws_db_subnet_group" "game" {
  name_prefix = "starter-"
  subnet_ids  = module.network.private_subnet_ids
}

resource "aws_db_instance" "game" {
  identifier_prefix               = "starter-game-"
  engine                          = "postgres"
  engine_version                  = "17.6"
  instance_class                  = "db.t4g.micro"
  allocated_storage               = 20
  max_allocated_storage           = 100
  storage_type                    = "gp3"
  storage_encrypted               = true
  multi_az                        = false
  db_subnet_group_name            = aws_db_subnet_group.game.name
  username                        = "game"
  manage_master_user_password     = true
  backup_retention_period         = 7
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  skip_final_snapshot             = true
}
