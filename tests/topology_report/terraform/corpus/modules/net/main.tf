# The corpus templates' VPC: three subnets, one per AZ, named as in the templates.
resource "aws_vpc" "Vpc" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_subnet" "SubA" {
  vpc_id            = aws_vpc.Vpc.id
  cidr_block        = "10.0.0.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "SubB" {
  vpc_id            = aws_vpc.Vpc.id
  cidr_block        = "10.0.1.0/24"
  availability_zone = "us-east-1b"
}

resource "aws_subnet" "SubC" {
  vpc_id            = aws_vpc.Vpc.id
  cidr_block        = "10.0.2.0/24"
  availability_zone = "us-east-1c"
}

output "vpc_id" {
  value = aws_vpc.Vpc.id
}

output "SubA" {
  value = aws_subnet.SubA.id
}

output "SubB" {
  value = aws_subnet.SubB.id
}

output "SubC" {
  value = aws_subnet.SubC.id
}
