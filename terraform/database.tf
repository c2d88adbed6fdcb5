# PostgreSQL for MLflow's tracking and registry: private subnets only, reachable from the MLflow
# tasks alone, its password generated here and kept in Secrets Manager.

resource "random_password" "database" {
  length = 40
  # Only characters that need no escaping in the postgresql:// URI MLflow is started with.
  special          = true
  override_special = "-_.~"
}

resource "aws_db_subnet_group" "mlflow" {
  name       = "${var.prefix}-mlflow"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "mlflow" {
  name   = "${var.prefix}-mlflow-postgres${var.postgres_version}"
  family = "postgres${var.postgres_version}"

  # MLflow's driver (psycopg2, sslmode=prefer) then always connects with TLS.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Statements slower than a second and every schema change (MLflow migrates at start) are logged.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${var.prefix}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "mlflow" {
  identifier     = "${var.prefix}-mlflow"
  engine         = "postgres"
  engine_version = var.postgres_version
  instance_class = var.db_instance_class

  db_name  = "mlflow"
  username = "mlflow"
  password = random_password.database.result

  allocated_storage     = 20
  max_allocated_storage = 200
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_subnet_group_name   = aws_db_subnet_group.mlflow.name
  vpc_security_group_ids = [aws_security_group.database.id]
  parameter_group_name   = aws_db_parameter_group.mlflow.name
  publicly_accessible    = false
  multi_az               = true

  backup_retention_period   = 14
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.prefix}-mlflow-final"

  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret" "database" {
  # checkov:skip=CKV2_AWS_57: automatic rotation would change the password under running MLflow tasks, which read it only at start; rotate by hand with a redeploy of mlflow (README).
  name                    = "${var.prefix}/mlflow/database"
  description             = "MLflow's PostgreSQL login (JSON: username, password, host, port, dbname)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "database" {
  secret_id = aws_secretsmanager_secret.database.id
  secret_string = jsonencode({
    username = aws_db_instance.mlflow.username
    password = random_password.database.result
    host     = aws_db_instance.mlflow.address
    port     = aws_db_instance.mlflow.port
    dbname   = aws_db_instance.mlflow.db_name
  })
}
