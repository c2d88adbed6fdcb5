# One customer-managed key encrypts the deployment's data at rest: SNS, SQS, DynamoDB, S3, RDS,
# Secrets Manager, CloudWatch Logs and the image repository.

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "key" {
  # In a key policy, "*" as the resource means this key and nothing else: these three checks read it as every resource.
  # checkov:skip=CKV_AWS_111: a key policy's resource "*" is the key itself (see above).
  # checkov:skip=CKV_AWS_356: a key policy's resource "*" is the key itself (see above).
  # checkov:skip=CKV_AWS_109: the account root must administer the key, or the key becomes unmanageable; IAM policies still decide who in the account may.
  statement {
    sid       = "account-administers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # SNS encrypts messages to the encrypted queues it delivers to.
  statement {
    sid       = "sns-delivers-to-queues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid = "logs-encrypt"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "toxic ${var.prefix}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.main.key_id
}
