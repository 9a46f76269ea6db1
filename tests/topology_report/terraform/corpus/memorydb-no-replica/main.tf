# Good app tier plus a MemoryDB cluster without replicas
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

resource "aws_memorydb_cluster" "Mem" {
  name                   = "sessions"
  node_type              = "db.t4g.small"
  acl_name               = "open-access"
  num_shards             = 1
  num_replicas_per_shard = 0
}
