# Good app tier plus a DocumentDB cluster with one instance
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

resource "aws_docdb_cluster" "Docs" {
  master_username = "app"
  master_password = "not-a-real-password" # a placeholder: the plan is never applied
}

resource "aws_docdb_cluster_instance" "DocsOne" {
  cluster_identifier = aws_docdb_cluster.Docs.id
  instance_class     = "db.t3.medium"
}
