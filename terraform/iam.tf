# One task role per service, allowed exactly what that service does, and one execution role per
# task (pull the image, write its own log group; MLflow's also reads the database secret).

locals {
  arn_base   = "arn:${local.partition}"
  queue_arns = { for role, queue in aws_sqs_queue.work : role => queue.arn }
  dlq_arns   = { for role, queue in aws_sqs_queue.dead_letter : role => queue.arn }
  # The API creates, subscribes and deletes its per-replica queues at run time.
  replica_queues_arn = "${local.arn_base}:sqs:${var.region}:${local.account_id}:${local.replica_queue_prefix}*"
  table_arns = {
    for name, table in aws_dynamodb_table.main : name => [table.arn, "${table.arn}/index/*"]
  }
  bucket_objects = "${aws_s3_bucket.artifacts.arn}/*"

  consume_actions = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
  ]
  # A consumer moves a message that is not a valid contract to its dead-letter queue itself.
  dead_letter_actions = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
  # Writes, also inside TransactWriteItems (authorised per item by these actions).
  item_write_actions = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
  ]
  kms_actions = ["kms:Decrypt", "kms:GenerateDataKey"]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = local.tasks

  name               = "${var.prefix}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "execution" {
  for_each = local.tasks

  name               = "${var.prefix}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# --- execution roles ---------------------------------------------------------------------------

data "aws_iam_policy_document" "execution" {
  for_each = local.tasks

  statement {
    sid = "pull-image"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.main.arn]
  }

  # GetAuthorizationToken names no repository: AWS allows no narrower resource.
  statement {
    sid       = "registry-login"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "write-own-logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.task[each.key].arn}:*"]
  }

  statement {
    sid       = "decrypt-image-and-secrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }

  dynamic "statement" {
    for_each = each.key == "mlflow" ? [aws_secretsmanager_secret.database.arn] : []
    content {
      sid       = "read-database-secret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.tasks

  name   = "start-task"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# --- task roles --------------------------------------------------------------------------------

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "publish-events"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
  }

  # Finding the topic by name; ListTopics names no topic.
  statement {
    sid       = "find-topic"
    actions   = ["sns:ListTopics"]
    resources = ["*"]
  }

  statement {
    sid = "own-replica-queues"
    actions = concat(local.consume_actions, [
      "sqs:CreateQueue",
      "sqs:DeleteQueue",
      "sqs:SetQueueAttributes",
      "sqs:TagQueue",
      "sqs:ListQueueTags",
      "sqs:SendMessage",
    ])
    resources = [local.replica_queues_arn]
  }

  statement {
    sid       = "subscribe-replica-queues"
    actions   = ["sns:Subscribe", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.events.arn]

    condition {
      test     = "StringLikeIfExists"
      variable = "sns:Endpoint"
      values   = [local.replica_queues_arn]
    }
  }

  statement {
    sid = "manage-own-subscriptions"
    actions = [
      "sns:Unsubscribe",
      "sns:GetSubscriptionAttributes",
      "sns:SetSubscriptionAttributes",
    ]
    resources = ["${aws_sns_topic.events.arn}:*"]
  }

  statement {
    sid     = "keys-predictions-reviews"
    actions = concat(local.item_write_actions, ["dynamodb:Query"])
    resources = flatten([
      local.table_arns["api-keys"],
      local.table_arns["predictions"],
      local.table_arns["reviews"],
    ])
  }

  statement {
    sid       = "read-models"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/models/*"]
  }

  # Without ListBucket a missing object answers 403 rather than 404.
  statement {
    sid       = "list-models"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "encrypted-data"
    actions   = local.kms_actions
    resources = [aws_kms_key.main.arn]
  }
}

data "aws_iam_policy_document" "logger" {
  statement {
    sid       = "consume"
    actions   = local.consume_actions
    resources = [local.queue_arns["logger"]]
  }

  statement {
    sid       = "dead-letter"
    actions   = local.dead_letter_actions
    resources = [local.dlq_arns["logger"]]
  }

  statement {
    sid     = "write-records"
    actions = local.item_write_actions
    resources = flatten([
      for table in ["predictions", "feedback", "reviews", "models", "processed"] :
      local.table_arns[table]
    ])
  }

  statement {
    sid       = "encrypted-data"
    actions   = local.kms_actions
    resources = [aws_kms_key.main.arn]
  }
}

data "aws_iam_policy_document" "monitoring" {
  statement {
    sid       = "consume"
    actions   = local.consume_actions
    resources = [local.queue_arns["monitoring"]]
  }

  statement {
    sid       = "dead-letter"
    actions   = local.dead_letter_actions
    resources = [local.dlq_arns["monitoring"]]
  }

  # Monitoring asks for a retrain when its rules say so.
  statement {
    sid       = "publish-events"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid       = "find-topic"
    actions   = ["sns:ListTopics"]
    resources = ["*"]
  }

  # The pipeline health probe: queue depths, live replica queues, the oldest message's age.
  statement {
    sid       = "queue-depths"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = concat(values(local.queue_arns), values(local.dlq_arns))
  }

  statement {
    sid       = "live-replicas"
    actions   = ["sqs:ListQueueTags", "sqs:GetQueueUrl"]
    resources = [local.replica_queues_arn]
  }

  # ListQueues and GetMetricStatistics name no resource.
  statement {
    sid       = "list-queues-and-metrics"
    actions   = ["sqs:ListQueues", "cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }

  statement {
    sid     = "rollups-and-alerts"
    actions = concat(local.item_write_actions, ["dynamodb:DeleteItem", "dynamodb:Query"])
    resources = flatten([
      for table in ["rollups", "processed", "alerts", "models", "predictions"] :
      local.table_arns[table]
    ])
  }

  statement {
    sid       = "encrypted-data"
    actions   = local.kms_actions
    resources = [aws_kms_key.main.arn]
  }
}

data "aws_iam_policy_document" "training" {
  statement {
    sid       = "consume"
    actions   = local.consume_actions
    resources = [local.queue_arns["training"]]
  }

  statement {
    sid       = "dead-letter"
    actions   = local.dead_letter_actions
    resources = [local.dlq_arns["training"]]
  }

  statement {
    sid       = "publish-events"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid       = "find-topic"
    actions   = ["sns:ListTopics"]
    resources = ["*"]
  }

  statement {
    sid       = "lease-and-markers"
    actions   = concat(local.item_write_actions, ["dynamodb:DeleteItem"])
    resources = flatten([local.table_arns["leases"], local.table_arns["processed"]])
  }

  # Feedback and moderator labels join the training data.
  statement {
    sid       = "read-feedback"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = local.table_arns["feedback"]
  }

  statement {
    sid       = "models-and-snapshots"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.bucket_objects]
  }

  statement {
    sid       = "list-bucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "encrypted-data"
    actions   = local.kms_actions
    resources = [aws_kms_key.main.arn]
  }
}

data "aws_iam_policy_document" "mlflow" {
  statement {
    sid       = "artifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/mlflow/*"]
  }

  statement {
    sid       = "list-artifacts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["mlflow/*", "mlflow"]
    }
  }

  statement {
    sid       = "encrypted-data"
    actions   = local.kms_actions
    resources = [aws_kms_key.main.arn]
  }
}

# The dashboard reads what monitoring and the logger wrote; it changes nothing.
data "aws_iam_policy_document" "dashboard" {
  statement {
    sid     = "read-records"
    actions = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = flatten([
      for table in ["rollups", "alerts", "models", "feedback", "reviews"] :
      local.table_arns[table]
    ])
  }

  statement {
    sid       = "encrypted-data"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

data "aws_iam_policy_document" "gc" {
  # ListQueues names no queue.
  statement {
    sid       = "find-replica-queues"
    actions   = ["sqs:ListQueues", "sns:ListTopics"]
    resources = ["*"]
  }

  statement {
    sid       = "remove-stale-replica-queues"
    actions   = ["sqs:ListQueueTags", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:DeleteQueue"]
    resources = [local.replica_queues_arn]
  }

  statement {
    sid       = "find-subscriptions"
    actions   = ["sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid       = "remove-their-subscriptions"
    actions   = ["sns:Unsubscribe"]
    resources = ["${aws_sns_topic.events.arn}:*"]
  }
}

locals {
  # The frontend talks to the API only: its role carries no policy.
  task_policies = {
    dashboard  = data.aws_iam_policy_document.dashboard.json
    api        = data.aws_iam_policy_document.api.json
    logger     = data.aws_iam_policy_document.logger.json
    monitoring = data.aws_iam_policy_document.monitoring.json
    training   = data.aws_iam_policy_document.training.json
    mlflow     = data.aws_iam_policy_document.mlflow.json
    gc         = data.aws_iam_policy_document.gc.json
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_policies

  name   = "${each.key}-permissions"
  role   = aws_iam_role.task[each.key].id
  policy = each.value
}
