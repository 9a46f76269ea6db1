# The corpus templates' database: PostgreSQL in a subnet group, Multi-AZ unless told.
variable "subnets" {
  type = list(string)
}

variable "multi_az" {
  type    = bool
  default = true
}

resource "aws_db_subnet_group" "DbSubnets" {
  subnet_ids = var.subnets
}

resource "aws_db_instance" "Db" {
  engine                      = "postgres"
  instance_class              = "db.t4g.medium"
  allocated_storage           = 20
  multi_az                    = var.multi_az
  db_subnet_group_name        = aws_db_subnet_group.DbSubnets.name
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}
