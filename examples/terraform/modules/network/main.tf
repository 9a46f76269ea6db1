# The VPC our stages share in shape: a public and a private subnet in each AZ, the public
# ones routed to an internet gateway, the private ones to NAT: a NAT gateway per AZ, one
# NAT gateway for all of them, or one NAT instance (the starter's), and a gateway endpoint
# for S3. The twin of stacks/network.py's VPC as far as the report is concerned.

variable "name" {
  type = string
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "azs" {
  description = "AZ names, one public and one private subnet in each"
  type        = list(string)
}

variable "nat" {
  description = "gateway-per-az, single-gateway or instance"
  type        = string
  validation {
    condition     = contains(["gateway-per-az", "single-gateway", "instance"], var.nat)
    error_message = "nat must be gateway-per-az, single-gateway or instance."
  }
}

variable "nat_instance_type" {
  type    = string
  default = "t4g.nano"
}

variable "nat_instance_ami" {
  description = "an arm64 Amazon Linux image with NAT configured (placeholder: the plan does not look it up)"
  type        = string
  default     = "ami-0c101f26f147fa7fd"
}

variable "alarm_topic_arn" {
  type    = string
  default = null
}

locals {
  gateways = var.nat == "gateway-per-az" ? length(var.azs) : (var.nat == "single-gateway" ? 1 : 0)
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags                 = { Name = var.name }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count                   = length(var.azs)
  vpc_id                  = aws_vpc.this.id
  cidr_block              = cidrsubnet(var.cidr, 8, count.index)
  availability_zone       = var.azs[count.index]
  map_public_ip_on_launch = true
  tags                    = { Name = "${var.name}-public-${var.azs[count.index]}" }
}

resource "aws_subnet" "private" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.cidr, 8, 10 + count.index)
  availability_zone = var.azs[count.index]
  tags              = { Name = "${var.name}-private-${var.azs[count.index]}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count          = length(var.azs)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  count  = local.gateways
  domain = "vpc"
}

resource "aws_nat_gateway" "this" {
  count         = local.gateways
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = { Name = "${var.name}-nat-${var.azs[count.index]}" }
}

# The starter's NAT: one instance, in a module of its own (a module in a module, counted).
module "nat_instance" {
  source          = "./nat-instance"
  count           = var.nat == "instance" ? 1 : 0
  name            = var.name
  subnet_id       = aws_subnet.public[0].id
  instance_type   = var.nat_instance_type
  ami             = var.nat_instance_ami
  alarm_topic_arn = var.alarm_topic_arn
}

resource "aws_route_table" "private" {
  count  = length(var.azs)
  vpc_id = aws_vpc.this.id
}

resource "aws_route" "private_egress" {
  count                  = length(var.azs)
  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  # a gateway per AZ: its own; a single gateway: the first (min(...) is 0)
  nat_gateway_id       = local.gateways > 0 ? aws_nat_gateway.this[min(count.index, local.gateways - 1)].id : null
  network_interface_id = var.nat == "instance" ? module.nat_instance[0].primary_network_interface_id : null
}

resource "aws_route_table_association" "private" {
  count          = length(var.azs)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.us-east-1.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
}

output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}
