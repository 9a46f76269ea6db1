# The corpus templates' app tier: an Auto Scaling group behind a load balancer, scaling on
# CPU; the subnets come in as lists of the caller's references.
variable "vpc_id" {
  type = string
}

variable "lb_subnets" {
  type = list(string)
}

variable "asg_subnets" {
  type = list(string)
}

variable "lb_type" {
  type    = string
  default = "application"
}

variable "min_size" {
  type    = number
  default = 2
}

resource "aws_lb" "Alb" {
  load_balancer_type = var.lb_type
  subnets            = var.lb_subnets
}

resource "aws_lb_target_group" "Tg" {
  port        = 80
  protocol    = var.lb_type == "network" ? "TCP" : "HTTP"
  vpc_id      = var.vpc_id
  target_type = "instance"
}

resource "aws_lb_listener" "Listener" {
  load_balancer_arn = aws_lb.Alb.arn
  port              = 80
  protocol          = var.lb_type == "network" ? "TCP" : "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.Tg.arn
  }
}

resource "aws_launch_template" "Lt" {
  instance_type = "t4g.small"
  image_id      = "ami-12345678"
}

resource "aws_autoscaling_group" "Group" {
  min_size            = var.min_size
  max_size            = 6
  vpc_zone_identifier = var.asg_subnets
  health_check_type   = "ELB"
  target_group_arns   = [aws_lb_target_group.Tg.arn]
  launch_template {
    id      = aws_launch_template.Lt.id
    version = aws_launch_template.Lt.latest_version
  }
}

resource "aws_autoscaling_policy" "Scaling" {
  name                   = "cpu"
  autoscaling_group_name = aws_autoscaling_group.Group.name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 50
  }
}
