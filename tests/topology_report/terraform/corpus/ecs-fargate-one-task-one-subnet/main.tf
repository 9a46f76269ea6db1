# ECS Fargate service, DesiredCount 1, one subnet, behind an ALB
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
  target_type = "ip"
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

resource "aws_ecs_cluster" "Cluster" {
  name = "corpus"
}

resource "aws_ecs_task_definition" "TaskDef" {
  family                   = "web"
  requires_compatibilities = ["FARGATE"]
  cpu                      = "256"
  memory                   = "512"
  network_mode             = "awsvpc"
  container_definitions = jsonencode([{
    name = "web", image = "public.ecr.aws/nginx/nginx:latest",
    portMappings = [{ containerPort = 80 }]
  }])
}

resource "aws_ecs_service" "Service" {
  name            = "web"
  cluster         = aws_ecs_cluster.Cluster.id
  launch_type     = "FARGATE"
  desired_count   = 1
  task_definition = aws_ecs_task_definition.TaskDef.arn
  network_configuration {
    subnets = [module.net.SubA]
  }
  load_balancer {
    container_name   = "web"
    container_port   = 80
    target_group_arn = aws_lb_target_group.Tg.arn
  }
  depends_on = [aws_lb_listener.Listener]
}
