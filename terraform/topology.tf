# The topology of DESIGN §4, as in shared/infra/spec.py (`toxic infra show`). tests/unit/
# test_terraform.py parses this file and fails when it and the spec disagree.
locals {
  topic_name        = "${var.prefix}-events"
  bucket_name       = "${var.prefix}-artifacts"
  max_receive_count = 5

  # SQS defaults of the spec: 30 s visibility, 4 days retention; dead letters are kept 14 days.
  default_visibility_seconds = 30
  retention_seconds          = 345600
  dlq_retention_seconds      = 1209600

  # Each consumer role owns one queue (and its DLQ), subscribed with a filter on event_type.
  consumers = {
    logger = {
      queue                      = "${var.prefix}-logger"
      dead_letter_queue          = "${var.prefix}-logger-dlq"
      visibility_timeout_seconds = 30
      event_types                = ["FeedbackGiven", "ModelPublished", "PredictionMade"]
    }
    monitoring = {
      queue                      = "${var.prefix}-monitoring"
      dead_letter_queue          = "${var.prefix}-monitoring-dlq"
      visibility_timeout_seconds = 30
      event_types                = ["FeedbackGiven", "ModelPublished", "ModelRejected", "PredictionMade", "TrainingFailed"]
    }
    training = {
      queue             = "${var.prefix}-training"
      dead_letter_queue = "${var.prefix}-training-dlq"
      # Training holds one message for a whole run; the consumer extends it, this is the floor.
      visibility_timeout_seconds = 900
      event_types                = ["RetrainRequested"]
    }
  }

  # Every API replica creates <prefix>-api-<instance> at start (receiving ModelPublished) and
  # removes it at stop; they all redrive to this one dead-letter queue, made here.
  api_dead_letter_queue = "${var.prefix}-api-dlq"
  replica_queue_prefix  = "${var.prefix}-api-"
  replica_event_types   = ["ModelPublished"]

  # DynamoDB: every key attribute is a string; every index projects all attributes.
  tables = {
    predictions = {
      hash_key      = "prediction_id"
      range_key     = null
      ttl_attribute = "expires_at"
      indexes       = [{ name = "by_time", hash_key = "day", range_key = "created_at" }]
    }
    feedback = {
      hash_key      = "feedback_id"
      range_key     = null
      ttl_attribute = null
      indexes = [
        { name = "by_time", hash_key = "day", range_key = "created_at" },
        { name = "by_prediction", hash_key = "prediction_id", range_key = null },
      ]
    }
    reviews = {
      hash_key      = "prediction_id"
      range_key     = null
      ttl_attribute = null
      indexes       = [{ name = "by_status", hash_key = "status", range_key = "queue_key" }]
    }
    rollups = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = "expires_at"
      indexes       = []
    }
    processed = {
      hash_key      = "pk"
      range_key     = null
      ttl_attribute = "expires_at"
      indexes       = []
    }
    alerts = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = null
      indexes       = []
    }
    models = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = null
      indexes       = []
    }
    api-keys = {
      hash_key      = "key_hash"
      range_key     = null
      ttl_attribute = null
      indexes       = []
    }
    leases = {
      hash_key      = "name"
      range_key     = null
      ttl_attribute = null
      indexes       = []
    }
  }
}
