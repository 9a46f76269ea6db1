# One instance with a single-AZ RDS and an S3 bucket
module "net" {
  source = "../modules/net"
}

resource "aws_instance" "Box" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubA
}

resource "aws_db_instance" "Db" {
  engine                      = "postgres"
  instance_class              = "db.t4g.micro"
  allocated_storage           = 20
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}

resource "aws_s3_bucket" "Assets" {}
