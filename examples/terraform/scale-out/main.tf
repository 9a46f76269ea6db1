# The scale-out stage's shape in Terraform (the twin of tests/snapshots/scale-out/ as far
# as the topology report is concerned): an Auto Scaling group over three AZs behind an
# internal Application Load Balancer that CloudFront reaches through a VPC origin, a
# Multi-AZ PostgreSQL, a NAT gateway per AZ, three buckets. No single point of failure.
#
# `scripts/terraform-plans.py` plans it offline into examples/terraform/plans/, and with
# `-var nat=single-gateway` or `-var db_multi_az=false` into plans/changes/: the changes
# the diff gate must refuse.

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

variable "nat" {
  description = "gateway-per-az (the stage's), single-gateway (a single point of failure)"
  type        = string
  default     = "gateway-per-az"
}

variable "db_multi_az" {
  type    = bool
  default = true
}

module "network" {
  source = "../modules/network"
  name   = "scale-out"
  azs    = ["us-east-1a", "us-east-1b", "us-east-1c"]
  nat    = var.nat
}

module "storage" {
  source = "../modules/storage"
  name   = "scale-out"
}

resource "aws_sns_topic" "alarms" {
  name = "scale-out-alarms"
}

resource "aws_security_group" "lb" {
  name_prefix = "scale-out-lb-"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "app" {
  name_prefix = "scale-out-app-"
  vpc_id      = module.network.vpc_id
}

resource "aws_lb" "app" {
  name_prefix                = "so-"
  load_balancer_type         = "application"
  internal                   = true
  subnets                    = module.network.private_subnet_ids
  security_groups            = [aws_security_group.lb.id]
  drop_invalid_header_fields = true
  access_logs {
    bucket  = module.storage.logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "app" {
  name_prefix          = "so-"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "instance"
  vpc_id               = module.network.vpc_id
  deregistration_delay = "30"
  health_check {
    path                = "/api/health/live"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
    matcher             = "200"
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

resource "aws_launch_template" "app" {
  name_prefix            = "scale-out-app-"
  image_id               = var.app_ami
  instance_type          = "c7g.large"
  vpc_security_group_ids = [aws_security_group.app.id]
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 20
      volume_type = "gp3"
      encrypted   = true
    }
  }
  metadata_options {
    http_tokens = "required"
  }
  monitoring {
    enabled = true
  }
  tags = {
    # What the report's capacity model needs (CloudFormation: Metadata.GameService).
    "TopologyReport:GameService" = "WorkersPerInstance=2 DbPoolSizePerWorker=10 DbMaxOverflowPerWorker=0 DbListenersPerWorker=1 AccessLogSampleRate=0.01"
  }
}

resource "aws_autoscaling_group" "app" {
  name_prefix               = "scale-out-app-"
  min_size                  = 3
  max_size                  = 12
  vpc_zone_identifier       = module.network.private_subnet_ids
  target_group_arns         = [aws_lb_target_group.app.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 1080
  default_instance_warmup   = 180
  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 125
    }
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "cpu-target"
  autoscaling_group_name = aws_autoscaling_group.app.name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 60
  }
}

resource "aws_cloudfront_vpc_origin" "app" {
  vpc_origin_endpoint_config {
    name                   = "scale-out-app"
    arn                    = aws_lb.app.arn
    http_port              = 80
    https_port             = 443
    origin_protocol_policy = "http-only"
    origin_ssl_protocols {
      items    = ["TLSv1.2"]
      quantity = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "s3" {
  name                              = "scale-out-s3"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "edge" {
  enabled = true
  comment = "scale-out"

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
    domain_name = aws_lb.app.dns_name
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
  name_prefix = "scale-out-"
  subnet_ids  = module.network.private_subnet_ids
}

resource "aws_db_instance" "game" {
  identifier_prefix               = "scale-out-game-"
  engine                          = "postgres"
  engine_version                  = "17.6"
  instance_class                  = "db.m7g.large"
  allocated_storage               = 100
  max_allocated_storage           = 1000
  storage_type                    = "gp3"
  storage_encrypted               = true
  multi_az                        = var.db_multi_az
  db_subnet_group_name            = aws_db_subnet_group.game.name
  username                        = "game"
  manage_master_user_password     = true
  backup_retention_period         = 14
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  skip_final_snapshot             = true
}
