# One small instance that does NAT (source/destination check off), recovered by EC2 when
# its host fails: the starter's egress, and a single point of failure by design.

variable "name" {
  type = string
}

variable "subnet_id" {
  type = string
}

variable "instance_type" {
  type = string
}

variable "ami" {
  type = string
}

variable "alarm_topic_arn" {
  type    = string
  default = null
}

resource "aws_instance" "this" {
  ami               = var.ami
  instance_type     = var.instance_type
  subnet_id         = var.subnet_id
  source_dest_check = false
  tags              = { Name = "${var.name}-nat" }
}

resource "aws_cloudwatch_metric_alarm" "recover" {
  alarm_name          = "${var.name}-nat-system-check"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  dimensions          = { InstanceId = aws_instance.this.id }
  alarm_actions       = compact(["arn:aws:automate:us-east-1:ec2:recover", var.alarm_topic_arn])
}

output "primary_network_interface_id" {
  value = aws_instance.this.primary_network_interface_id
}
