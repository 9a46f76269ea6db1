# Good app tier plus a Regional EFS file system
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

resource "aws_efs_file_system" "Files" {
  encrypted = true
}

resource "aws_efs_mount_target" "MountA" {
  file_system_id  = aws_efs_file_system.Files.id
  subnet_id       = module.net.SubA
  security_groups = ["sg-0123456789abcdef0"]
}
