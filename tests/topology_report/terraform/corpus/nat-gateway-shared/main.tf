# One NAT gateway for private subnets in two AZs
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

resource "aws_subnet" "PrivA" {
  vpc_id            = module.net.vpc_id
  cidr_block        = "10.0.10.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "PrivB" {
  vpc_id            = module.net.vpc_id
  cidr_block        = "10.0.11.0/24"
  availability_zone = "us-east-1b"
}

resource "aws_route_table" "PrivRt" {
  vpc_id = module.net.vpc_id
}

resource "aws_route_table_association" "PrivAssocA" {
  subnet_id      = aws_subnet.PrivA.id
  route_table_id = aws_route_table.PrivRt.id
}

resource "aws_route_table_association" "PrivAssocB" {
  subnet_id      = aws_subnet.PrivB.id
  route_table_id = aws_route_table.PrivRt.id
}

resource "aws_eip" "NatIp" {
  domain = "vpc"
}

resource "aws_nat_gateway" "Nat" {
  subnet_id     = module.net.SubA
  allocation_id = aws_eip.NatIp.id
}

resource "aws_route" "PrivDefault" {
  route_table_id         = aws_route_table.PrivRt.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.Nat.id
}
