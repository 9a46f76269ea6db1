# Good app tier plus OpenSearch with one data node
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
    instance_type  = "t3.small.search"
    instance_count = 1
  }
  ebs_options {
    ebs_enabled = true
    volume_size = 10
  }
}
