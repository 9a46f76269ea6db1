# Good app tier with an Aurora cluster of one instance
module "net" {
  source = "../modules/net"
}

module "app" {
  source      = "../modules/app"
  vpc_id      = module.net.vpc_id
  lb_subnets  = [module.net.SubA, module.net.SubB]
  asg_subnets = [module.net.SubA, module.net.SubB]
}

resource "aws_rds_cluster" "Db" {
  engine                      = "aurora-postgresql"
  master_username             = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}

resource "aws_rds_cluster_instance" "Writer" {
  engine             = "aurora-postgresql"
  cluster_identifier = aws_rds_cluster.Db.id
  instance_class     = "db.r7g.large"
}
