# One EC2 instance with an Elastic IP does everything
resource "aws_instance" "Box" {
  instance_type     = "t3.small"
  ami               = "ami-12345678"
  availability_zone = "us-east-1a"
}

resource "aws_eip" "BoxIp" {
  instance = aws_instance.Box.id
}
