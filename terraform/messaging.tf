# One SNS topic; per consumer a work queue and its dead-letter queue; raw-delivery subscriptions
# filtered on the event_type message attribute. Everything is encrypted with the deployment key.

resource "aws_sns_topic" "events" {
  name              = local.topic_name
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sqs_queue" "dead_letter" {
  for_each = merge(
    { for role, consumer in local.consumers : role => consumer.dead_letter_queue },
    { api = local.api_dead_letter_queue },
  )

  name                              = each.value
  visibility_timeout_seconds        = local.default_visibility_seconds
  message_retention_seconds         = local.dlq_retention_seconds
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "work" {
  for_each = local.consumers

  name                              = each.value.queue
  visibility_timeout_seconds        = each.value.visibility_timeout_seconds
  message_retention_seconds         = local.retention_seconds
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn
    maxReceiveCount     = local.max_receive_count
  })
}

# A dead-letter queue accepts redrives only from its own work queue. The API's accepts any queue:
# its sources are the replica queues, made and removed at run time, and SQS takes no wildcard.
locals {
  redrive_allow = merge(
    {
      for role, queue in aws_sqs_queue.work : role => {
        redrivePermission = "byQueue"
        sourceQueueArns   = [queue.arn]
      }
    },
    { api = { redrivePermission = "allowAll" } },
  )
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  for_each = aws_sqs_queue.dead_letter

  queue_url            = each.value.id
  redrive_allow_policy = jsonencode(local.redrive_allow[each.key])
}

# Only our topic may send to a work queue (SNS needs this to deliver at all).
data "aws_iam_policy_document" "topic_sends" {
  for_each = local.consumers

  statement {
    sid       = "topic-sends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "work" {
  for_each = local.consumers

  queue_url = aws_sqs_queue.work[each.key].id
  policy    = data.aws_iam_policy_document.topic_sends[each.key].json
}

resource "aws_sns_topic_subscription" "work" {
  for_each = local.consumers

  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.work[each.key].arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy        = jsonencode({ event_type = sort(each.value.event_types) })

  depends_on = [aws_sqs_queue_policy.work]
}
