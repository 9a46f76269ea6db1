# Two instances in one subnet behind an ALB in two AZs
module "net" {
  source = "../modules/net"
}

resource "aws_lb" "Alb" {
  subnets = [module.net.SubA, module.net.SubB]
}

resource "aws_lb_target_group" "Tg" {
  port        = 80
  protocol    = "HTTP"
  vpc_id      = module.net.vpc_id
  target_type = "instance"
}

resource "aws_lb_listener" "Listener" {
  load_balancer_arn = aws_lb.Alb.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.Tg.arn
  }
}

resource "aws_instance" "WebA" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubA
}

resource "aws_instance" "WebB" {
  instance_type = "t3.small"
  ami           = "ami-12345678"
  subnet_id     = module.net.SubA
}

resource "aws_lb_target_group_attachment" "TgWebA" {
  target_group_arn = aws_lb_target_group.Tg.arn
  target_id        = aws_instance.WebA.id
}

resource "aws_lb_target_group_attachment" "TgWebB" {
  target_group_arn = aws_lb_target_group.Tg.arn
  target_id        = aws_instance.WebB.id
}

module "db" {
  source  = "../modules/db"
  subnets = [module.net.SubA, module.net.SubB]
}

