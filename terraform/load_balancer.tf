# One internet-facing load balancer for the HTTP services, routed by host name, HTTPS only.

resource "aws_lb" "main" {
  # checkov:skip=CKV_AWS_91: access logs need a separate SSE-S3 bucket (ALB cannot write with a KMS key); the API logs every request itself, structured, in CloudWatch.
  # checkov:skip=CKV2_AWS_28: a WAF web ACL is a policy choice of the operator (and a cost); the API rate-limits per key and refuses oversized bodies itself.
  # Load balancer and target group names have at most 32 characters.
  name                       = substr("${var.prefix}-http", 0, 32)
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  # Streamlit holds a websocket per browser tab open; the API's slowest call is a batch of 1000.
  idle_timeout = 300
}

resource "aws_lb_target_group" "http" {
  # checkov:skip=CKV_AWS_378: TLS ends at the load balancer; from there to the tasks traffic stays in the VPC's private subnets, and uvicorn and Streamlit serve plain HTTP.
  for_each = local.http_services

  name                 = substr("${var.prefix}-${each.key}", 0, 32)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    path                = each.value.health_path
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # A Streamlit session lives in one process: keep each browser on the task that holds it.
  stickiness {
    type            = "lb_cookie"
    enabled         = each.key != "api"
    cookie_duration = 86400
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "unknown host"
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener_rule" "http" {
  for_each = local.http_services

  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http[each.key].arn
  }

  condition {
    host_header {
      values = [each.value.host]
    }
  }
}
