# ECS Fargate service, 3 tasks over 3 AZs, circuit breaker, target tracking
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
  desired_count   = 3
  task_definition = aws_ecs_task_definition.TaskDef.arn
  network_configuration {
    subnets = [module.net.SubA, module.net.SubB, module.net.SubC]
  }
  load_balancer {
    container_name   = "web"
    container_port   = 80
    target_group_arn = aws_lb_target_group.Tg.arn
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  depends_on = [aws_lb_listener.Listener]
}

resource "aws_appautoscaling_target" "ScalableTarget" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.Cluster.name}/${aws_ecs_service.Service.name}"
  min_capacity       = 3
  max_capacity       = 12
}

resource "aws_appautoscaling_policy" "ScalingPolicy" {
  name               = "cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.ScalableTarget.service_namespace
  scalable_dimension = aws_appautoscaling_target.ScalableTarget.scalable_dimension
  resource_id        = aws_appautoscaling_target.ScalableTarget.resource_id
  target_tracking_scaling_policy_configuration {
    target_value = 50
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

module "db" {
  source  = "../modules/db"
  subnets = [module.net.SubA, module.net.SubB]
}

