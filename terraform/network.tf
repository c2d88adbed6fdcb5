# A VPC with public subnets for the load balancer and the NAT gateway, and private subnets for
# the tasks and the database. Tasks reach AWS APIs (and Kaggle) through the NAT gateway.

locals {
  zones = var.availability_zones
}

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.prefix }
}

# No rules: nothing may use the default security group.
resource "aws_default_security_group" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "public" {
  count = length(local.zones)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.zones[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)

  tags = { Name = "${var.prefix}-public-${local.zones[count.index]}" }
}

resource "aws_subnet" "private" {
  count = length(local.zones)

  vpc_id            = aws_vpc.main.id
  availability_zone = local.zones[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 100 + count.index)

  tags = { Name = "${var.prefix}-private-${local.zones[count.index]}" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "main" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "public" {
  count = length(local.zones)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main.id
  }
}

resource "aws_route_table_association" "private" {
  count = length(local.zones)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# Rejected and accepted traffic, for when something cannot reach what it should.
resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/toxic/${var.prefix}/vpc-flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.prefix}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "main" {
  vpc_id          = aws_vpc.main.id
  traffic_type    = "ALL"
  log_destination = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn    = aws_iam_role.flow_logs.arn
}

# Security groups: the load balancer faces the internet on 443 only; the services accept the
# load balancer and each other; MLflow accepts the services; the database accepts MLflow only.

resource "aws_security_group" "alb" {
  name        = "${var.prefix}-alb"
  description = "The public load balancer"
  vpc_id      = aws_vpc.main.id
}

resource "aws_security_group" "services" {
  name        = "${var.prefix}-services"
  description = "The toxic services (api, logger, monitoring, training, frontend, dashboard, gc)"
  vpc_id      = aws_vpc.main.id
}

resource "aws_security_group" "mlflow" {
  name        = "${var.prefix}-mlflow"
  description = "The MLflow tracking server"
  vpc_id      = aws_vpc.main.id
}

resource "aws_security_group" "database" {
  name        = "${var.prefix}-database"
  description = "MLflow's PostgreSQL"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from anywhere"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_services" {
  for_each = local.http_services

  security_group_id            = aws_security_group.alb.id
  description                  = "To ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_ingress_rule" "services_from_alb" {
  for_each = local.http_services

  security_group_id            = aws_security_group.services.id
  description                  = "${each.key} from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = aws_security_group.alb.id
}

# The Streamlit apps call the API inside the VPC, and monitoring probes each replica.
resource "aws_vpc_security_group_ingress_rule" "api_from_services" {
  security_group_id            = aws_security_group.services.id
  description                  = "api from the Streamlit apps and the health probe"
  ip_protocol                  = "tcp"
  from_port                    = local.http_services.api.port
  to_port                      = local.http_services.api.port
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_egress_rule" "services_to_api" {
  security_group_id            = aws_security_group.services.id
  description                  = "The Streamlit apps and the health probe to the api"
  ip_protocol                  = "tcp"
  from_port                    = local.http_services.api.port
  to_port                      = local.http_services.api.port
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_egress_rule" "services_to_mlflow" {
  security_group_id            = aws_security_group.services.id
  description                  = "training to MLflow"
  ip_protocol                  = "tcp"
  from_port                    = 5000
  to_port                      = 5000
  referenced_security_group_id = aws_security_group.mlflow.id
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_from_services" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "MLflow from training"
  ip_protocol                  = "tcp"
  from_port                    = 5000
  to_port                      = 5000
  referenced_security_group_id = aws_security_group.services.id
}

resource "aws_vpc_security_group_egress_rule" "mlflow_to_database" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "MLflow to PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_mlflow" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from MLflow only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.mlflow.id
}

# AWS APIs, ECR and Kaggle are HTTPS endpoints reached through the NAT gateway.
resource "aws_vpc_security_group_egress_rule" "https_out" {
  for_each = {
    services = aws_security_group.services.id
    mlflow   = aws_security_group.mlflow.id
  }

  security_group_id = each.value
  description       = "HTTPS to AWS APIs, ECR and Kaggle"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# Cloud Map names (api.<namespace>, mlflow.<namespace>) resolve through the VPC's DNS.
resource "aws_vpc_security_group_egress_rule" "dns_out" {
  for_each = {
    services = aws_security_group.services.id
    mlflow   = aws_security_group.mlflow.id
  }

  security_group_id = each.value
  description       = "DNS to the VPC resolver"
  ip_protocol       = "udp"
  from_port         = 53
  to_port           = 53
  cidr_ipv4         = var.vpc_cidr
}
