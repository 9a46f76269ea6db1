# Classic ELB with two registered instances in two AZs, Multi-AZ RDS
module "net" {
  source = "../modules/net"
}

resource "aws_instance" "WebA" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubA
}

resource "aws_instance" "WebB" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubB
}

resource "aws_elb" "Elb" {
  subnets   = [module.net.SubA, module.net.SubB]
  instances = [aws_instance.WebA.id, aws_instance.WebB.id]
  listener {
    lb_port           = 80
    lb_protocol       = "http"
    instance_port     = 80
    instance_protocol = "http"
  }
}

module "db" {
  source  = "../modules/db"
  subnets = [module.net.SubA, module.net.SubB]
}

