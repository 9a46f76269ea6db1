# A good Auto Scaling app tier plus a bastion host that serves no traffic
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

resource "aws_instance" "Bastion" {
  instance_type = "t4g.nano"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubC
}
