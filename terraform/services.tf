# The six services and MLflow on ECS Fargate, from the one image (Dockerfile). The entrypoint is
# `toxic`, so each task's command is `serve NAME`.

locals {
  namespace     = "${var.prefix}.internal"
  service_image = "${aws_ecr_repository.main.repository_url}:${var.image_tag}"
  mlflow_image  = "${aws_ecr_repository.main.repository_url}:mlflow-${var.image_tag}"
  api_internal  = "http://api.${local.namespace}:8000"
  mlflow_url    = "http://mlflow.${local.namespace}:5000"

  # Every task that reads AWS finds it through its task role and the region; names come from
  # the prefix. The frontend talks to the API only and reads neither.
  common_environment = {
    AWS_REGION   = var.region
    TOXIC_PREFIX = var.prefix
  }

  # The services behind the load balancer, by host name.
  http_services = {
    api       = { port = 8000, host = "api.${var.domain_name}", health_path = "/healthz", priority = 10 }
    frontend  = { port = 8501, host = "app.${var.domain_name}", health_path = "/_stcore/health", priority = 20 }
    dashboard = { port = 8502, host = "dashboard.${var.domain_name}", health_path = "/_stcore/health", priority = 30 }
  }

  services = {
    api = {
      # Two vCPUs: the event loop and the scoring process that takes batches beside it
      # (TOXIC_SCORING_PROCESSES, default 1), each on its own core.
      cpu           = 2048
      memory        = 4096
      desired_count = var.api_min_count
      environment = merge(local.common_environment, {
        # No TOXIC_PUBLIC_URL: each replica tags its queue with its own address, which the
        # monitoring's health probe calls.
        TOXIC_HOST = "0.0.0.0"
        TOXIC_PORT = "8000"
      })
    }
    logger = {
      cpu           = 512
      memory        = 1024
      desired_count = var.consumer_min_count
      environment   = local.common_environment
    }
    monitoring = {
      cpu           = 512
      memory        = 1024
      desired_count = var.consumer_min_count
      environment   = local.common_environment
    }
    # Exactly one training consumer: training is single-flight across the deployment.
    training = {
      cpu           = 2048
      memory        = 8192
      desired_count = 1
      environment = merge(local.common_environment, {
        MLFLOW_TRACKING_URI = local.mlflow_url
      })
    }
    frontend = {
      cpu           = 512
      memory        = 1024
      desired_count = 2
      environment = {
        TOXIC_FRONTEND_HOST    = "0.0.0.0"
        TOXIC_FRONTEND_PORT    = "8501"
        TOXIC_FRONTEND_API_URL = local.api_internal
      }
    }
    dashboard = {
      cpu           = 512
      memory        = 1024
      desired_count = 1
      # The dashboard reads the rollups, alerts and model history from DynamoDB itself.
      environment = merge(local.common_environment, {
        TOXIC_DASHBOARD_HOST    = "0.0.0.0"
        TOXIC_DASHBOARD_PORT    = "8502"
        TOXIC_DASHBOARD_API_URL = local.api_internal
      })
    }
  }

  # Every task that has a log group and roles: the services, MLflow and the scheduled gc.
  tasks = toset(concat(keys(local.services), ["mlflow", "gc"]))
}

resource "aws_ecs_cluster" "main" {
  name = var.prefix

  # Container Insights publishes RunningTaskCount, which the queue-depth scaling divides by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "task" {
  for_each = local.tasks

  name              = "/toxic/${var.prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_service_discovery_private_dns_namespace" "main" {
  name        = local.namespace
  description = "Names the services call each other by"
  vpc         = aws_vpc.main.id
}

resource "aws_service_discovery_service" "internal" {
  for_each = toset(["api", "mlflow"])

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

locals {
  # A health check without curl: the image has Python.
  http_check = {
    for name, http in local.http_services : name => [
      "CMD", "python", "-c",
      "import urllib.request as u; u.urlopen('http://127.0.0.1:${http.port}${http.health_path}', timeout=4)",
    ]
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${var.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    merge(
      {
        name      = each.key
        image     = local.service_image
        command   = ["serve", each.key]
        essential = true
        # The API's outbox, kagglehub's cache and Streamlit's state are written under the user's
        # home; the code itself is owned by root in the image and cannot be changed.
        readonlyRootFilesystem = false
        # SIGTERM first: consumers finish in-flight work and the API drains its outbox.
        stopTimeout = 120
        environment = [
          for name, value in each.value.environment :
          { name = name, value = value }
        ]
        portMappings = [
          for name, http in local.http_services :
          { containerPort = http.port, protocol = "tcp" } if name == each.key
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.task[each.key].name
            awslogs-region        = var.region
            awslogs-stream-prefix = each.key
          }
        }
      },
      # Only the HTTP services have a health check ECS can run.
      {
        for name, check in local.http_check : "healthCheck" => {
          command     = check
          interval    = 15
          timeout     = 5
          retries     = 3
          startPeriod = 60
        } if name == each.key
      },
    )
  ])
}

resource "aws_ecs_service" "service" {
  for_each = local.services

  name                   = each.key
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.service[each.key].arn
  desired_count          = each.value.desired_count
  launch_type            = "FARGATE"
  enable_execute_command = false
  propagate_tags         = "SERVICE"
  # Training never runs two consumers, not even for a moment during a deployment.
  deployment_maximum_percent         = each.key == "training" ? 100 : 200
  deployment_minimum_healthy_percent = each.key == "training" ? 0 : 100
  # The API loads its model and Streamlit starts before either answers the load balancer.
  health_check_grace_period_seconds = contains(keys(local.http_services), each.key) ? 120 : null

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.services.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = { for name, http in local.http_services : name => http if name == each.key }
    content {
      target_group_arn = aws_lb_target_group.http[load_balancer.key].arn
      container_name   = each.key
      container_port   = load_balancer.value.port
    }
  }

  dynamic "service_registries" {
    for_each = each.key == "api" ? [aws_service_discovery_service.internal["api"].arn] : []
    content {
      registry_arn = service_registries.value
    }
  }

  # Autoscaling owns the count of the api, logger and monitoring after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener_rule.http]
}

# MLflow: the tracking server and registry, inside the VPC only. The database password comes
# from Secrets Manager into the environment; the URI is assembled when the container starts.
resource "aws_ecs_task_definition" "mlflow" {
  family                   = "${var.prefix}-mlflow"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  execution_role_arn       = aws_iam_role.execution["mlflow"].arn
  task_role_arn            = aws_iam_role.task["mlflow"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "mlflow"
    image                  = local.mlflow_image
    essential              = true
    readonlyRootFilesystem = false
    entryPoint             = ["sh", "-c"]
    command = [join(" ", [
      "exec mlflow server --host 0.0.0.0 --port 5000 --workers 2",
      "--backend-store-uri \"postgresql+psycopg2://$${DB_USER}:$${DB_PASSWORD}@$${DB_HOST}:$${DB_PORT}/mlflow\"",
      "--artifacts-destination s3://${aws_s3_bucket.artifacts.bucket}/mlflow",
    ])]
    environment = [
      { name = "AWS_REGION", value = var.region },
      { name = "DB_USER", value = aws_db_instance.mlflow.username },
      { name = "DB_HOST", value = aws_db_instance.mlflow.address },
      { name = "DB_PORT", value = tostring(aws_db_instance.mlflow.port) },
      { name = "MLFLOW_SERVER_ALLOWED_HOSTS", value = "mlflow.${local.namespace},mlflow.${local.namespace}:5000,localhost,localhost:5000,127.0.0.1:5000" },
      { name = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", value = "false" },
    ]
    secrets = [
      { name = "DB_PASSWORD", valueFrom = "${aws_secretsmanager_secret.database.arn}:password::" },
    ]
    portMappings = [{ containerPort = 5000, protocol = "tcp" }]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 90
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.task["mlflow"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "mlflow"
      }
    }
  }])

  depends_on = [aws_secretsmanager_secret_version.database]
}

resource "aws_ecs_service" "mlflow" {
  name                   = "mlflow"
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.mlflow.arn
  desired_count          = 1
  launch_type            = "FARGATE"
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.mlflow.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  service_registries {
    registry_arn = aws_service_discovery_service.internal["mlflow"].arn
  }
}

# `toxic infra gc`, run by the schedule in schedule.tf.
resource "aws_ecs_task_definition" "gc" {
  family                   = "${var.prefix}-gc"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution["gc"].arn
  task_role_arn            = aws_iam_role.task["gc"].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "gc"
    image                  = local.service_image
    command                = ["infra", "gc"]
    essential              = true
    readonlyRootFilesystem = true
    environment = [
      for name, value in local.common_environment : { name = name, value = value }
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.task["gc"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "gc"
      }
    }
  }])
}

resource "aws_ecr_repository" "main" {
  name                 = var.prefix
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}
