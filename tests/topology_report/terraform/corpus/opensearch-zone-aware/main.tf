# Good app tier plus OpenSearch, 3 nodes with zone awareness over 3 AZs
module "net" {
  source = "../modules/net"
}

module "app" {
  source      = "../modules/app"
  vpc_id      = module.net.vpc_id
  lb_subnets  = [module.net.SubA, module.net.SubB]
  asg_subnets = [module.net.SubA, module.net.SubB]
}

module "db" {
  source  = "../modules/db"
  subnets = [module.net.SubA, module.net.SubB]
}

resource "aws_opensearch_domain" "Search" {
  domain_name    = "search"
  engine_version = "OpenSearch_2.11"
  cluster_config {
    instance_type            = "m6g.large.search"
    instance_count           = 3
    zone_awareness_enabled   = true
    dedicated_master_enabled = true
    dedicated_master_count   = 3
    dedicated_master_type    = "m6g.large.search"
    zone_awareness_config {
      availability_zone_count = 3
    }
  }
  ebs_options {
    ebs_enabled = true
    volume_size = 20
  }
}
