# Good app tier plus an ActiveMQ broker in ACTIVE_STANDBY_MULTI_AZ mode
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

resource "aws_mq_broker" "Broker" {
  broker_name         = "jobs"
  engine_type         = "ActiveMQ"
  engine_version      = "5.18"
  host_instance_type  = "mq.m5.large"
  deployment_mode     = "ACTIVE_STANDBY_MULTI_AZ"
  subnet_ids          = [module.net.SubA, module.net.SubB]
  publicly_accessible = false
  user {
    username = "app"
    password = "not-a-real-password" # a placeholder: the plan is never applied
  }
}
