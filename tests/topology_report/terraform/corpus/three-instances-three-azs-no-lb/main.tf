# Three instances in three AZs, no load balancer
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

resource "aws_instance" "WebC" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubC
}
