# Good app tier plus a single-node Redis cache cluster
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

resource "aws_elasticache_cluster" "Cache" {
  cluster_id      = "cache"
  engine          = "redis"
  node_type       = "cache.t4g.small"
  num_cache_nodes = 1
}
