# Good app tier plus services the report has no specific rules for: a single-node Redshift
# cluster (judged by its placement and count, as its CloudFormation counterpart) and a
# Neptune cluster with no instance
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

resource "aws_redshift_cluster" "Warehouse" {
  cluster_identifier     = "warehouse"
  cluster_type           = "single-node"
  node_type              = "ra3.large"
  database_name          = "dw"
  master_username        = "app"
  manage_master_password = true
}

resource "aws_neptune_cluster" "Graph" {
}
