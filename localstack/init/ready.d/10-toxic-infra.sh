#!/usr/bin/env bash
# GENERATED from the infrastructure spec (shared/infra/spec.py) for deployment prefix 'toxic'.
# Do not edit; regenerate with:
#   uv run toxic infra localstack-script > localstack/init/ready.d/10-toxic-infra.sh
# LocalStack runs it once its services answer (init stage READY); `toxic infra ensure` runs after
# it in compose and reports anything it left different from the spec.
set -euo pipefail

echo "toxic: creating the 'toxic' deployment"

# The topic every event is published to. Its ARN tells the partition, region and
# account, from which the queue ARNs below are built.
topic_arn=$(awslocal sns create-topic --name toxic-events --query TopicArn --output text)
IFS=: read -r _ partition _ region account _ <<<"${topic_arn}"
sqs_arn_prefix="arn:${partition}:sqs:${region}:${account}"

# Queues, dead-letter queues first: the others redrive to them.
# What logger received 5 times unhandled.
awslocal sqs create-queue --queue-name toxic-logger-dlq \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"1209600"}' >/dev/null
# What monitoring received 5 times unhandled.
awslocal sqs create-queue --queue-name toxic-monitoring-dlq \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"1209600"}' >/dev/null
# What training received 5 times unhandled.
awslocal sqs create-queue --queue-name toxic-training-dlq \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"1209600"}' >/dev/null
# What API replicas left unhandled; shared by every replica queue.
awslocal sqs create-queue --queue-name toxic-api-dlq \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"1209600"}' >/dev/null
# The logger service's work queue.
awslocal sqs create-queue --queue-name toxic-logger \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"345600","RedrivePolicy":"{\"deadLetterTargetArn\":\"'"${sqs_arn_prefix}"':toxic-logger-dlq\",\"maxReceiveCount\":5}","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"topic-sends\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"sns.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":\"'"${sqs_arn_prefix}"':toxic-logger\",\"Condition\":{\"ArnEquals\":{\"aws:SourceArn\":\"'"${topic_arn}"'\"}}}]}"}' >/dev/null
# The monitoring service's work queue.
awslocal sqs create-queue --queue-name toxic-monitoring \
    --attributes '{"VisibilityTimeout":"30","MessageRetentionPeriod":"345600","RedrivePolicy":"{\"deadLetterTargetArn\":\"'"${sqs_arn_prefix}"':toxic-monitoring-dlq\",\"maxReceiveCount\":5}","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"topic-sends\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"sns.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":\"'"${sqs_arn_prefix}"':toxic-monitoring\",\"Condition\":{\"ArnEquals\":{\"aws:SourceArn\":\"'"${topic_arn}"'\"}}}]}"}' >/dev/null
# The training service's work queue.
awslocal sqs create-queue --queue-name toxic-training \
    --attributes '{"VisibilityTimeout":"900","MessageRetentionPeriod":"345600","RedrivePolicy":"{\"deadLetterTargetArn\":\"'"${sqs_arn_prefix}"':toxic-training-dlq\",\"maxReceiveCount\":5}","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"topic-sends\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"sns.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":\"'"${sqs_arn_prefix}"':toxic-training\",\"Condition\":{\"ArnEquals\":{\"aws:SourceArn\":\"'"${topic_arn}"'\"}}}]}"}' >/dev/null

# Subscriptions: raw delivery, filtered on the event_type attribute.
awslocal sns subscribe --topic-arn "${topic_arn}" --protocol sqs \
    --notification-endpoint "${sqs_arn_prefix}":toxic-logger \
    --attributes '{"RawMessageDelivery":"true","FilterPolicy":"{\"event_type\":[\"FeedbackGiven\",\"ModelPublished\",\"PredictionMade\"]}","FilterPolicyScope":"MessageAttributes"}' >/dev/null
awslocal sns subscribe --topic-arn "${topic_arn}" --protocol sqs \
    --notification-endpoint "${sqs_arn_prefix}":toxic-monitoring \
    --attributes '{"RawMessageDelivery":"true","FilterPolicy":"{\"event_type\":[\"FeedbackGiven\",\"ModelPublished\",\"ModelRejected\",\"PredictionMade\",\"TrainingFailed\"]}","FilterPolicyScope":"MessageAttributes"}' >/dev/null
awslocal sns subscribe --topic-arn "${topic_arn}" --protocol sqs \
    --notification-endpoint "${sqs_arn_prefix}":toxic-training \
    --attributes '{"RawMessageDelivery":"true","FilterPolicy":"{\"event_type\":[\"RetrainRequested\"]}","FilterPolicyScope":"MessageAttributes"}' >/dev/null

# Tables, billed per request.
# Every scored comment; by_time lists a day's predictions in time order. TTL.
if ! awslocal dynamodb describe-table --table-name toxic-predictions >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-predictions --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"prediction_id","AttributeType":"S"},{"AttributeName":"day","AttributeType":"S"},{"AttributeName":"created_at","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"prediction_id","KeyType":"HASH"}]' \
        --global-secondary-indexes '[{"IndexName":"by_time","KeySchema":[{"AttributeName":"day","KeyType":"HASH"},{"AttributeName":"created_at","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]' >/dev/null
    awslocal dynamodb wait table-exists --table-name toxic-predictions
    awslocal dynamodb update-time-to-live --table-name toxic-predictions \
        --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
fi
# Feedback and moderator labels, by day or by the prediction they judge.
if ! awslocal dynamodb describe-table --table-name toxic-feedback >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-feedback --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"feedback_id","AttributeType":"S"},{"AttributeName":"day","AttributeType":"S"},{"AttributeName":"created_at","AttributeType":"S"},{"AttributeName":"prediction_id","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"feedback_id","KeyType":"HASH"}]' \
        --global-secondary-indexes '[{"IndexName":"by_time","KeySchema":[{"AttributeName":"day","KeyType":"HASH"},{"AttributeName":"created_at","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}},{"IndexName":"by_prediction","KeySchema":[{"AttributeName":"prediction_id","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]' >/dev/null
fi
# The moderation queue; by_status lists pending items by priority, then age.
if ! awslocal dynamodb describe-table --table-name toxic-reviews >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-reviews --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"prediction_id","AttributeType":"S"},{"AttributeName":"status","AttributeType":"S"},{"AttributeName":"queue_key","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"prediction_id","KeyType":"HASH"}]' \
        --global-secondary-indexes '[{"IndexName":"by_status","KeySchema":[{"AttributeName":"status","KeyType":"HASH"},{"AttributeName":"queue_key","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]' >/dev/null
fi
# Monitoring counters per minute, hour and day; minute and hour items expire. TTL.
if ! awslocal dynamodb describe-table --table-name toxic-rollups >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-rollups --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]' >/dev/null
    awslocal dynamodb wait table-exists --table-name toxic-rollups
    awslocal dynamodb update-time-to-live --table-name toxic-rollups \
        --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
fi
# Processed-event markers, keyed '<consumer>#<event_id>'. TTL.
if ! awslocal dynamodb describe-table --table-name toxic-processed >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-processed --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"pk","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"pk","KeyType":"HASH"}]' >/dev/null
    awslocal dynamodb wait table-exists --table-name toxic-processed
    awslocal dynamodb update-time-to-live --table-name toxic-processed \
        --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
fi
# Alert state and history of the monitoring rules.
if ! awslocal dynamodb describe-table --table-name toxic-alerts >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-alerts --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]' >/dev/null
fi
# Model history: every published or rejected model.
if ! awslocal dynamodb describe-table --table-name toxic-models >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-models --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]' >/dev/null
fi
# API keys, stored only as their sha256.
if ! awslocal dynamodb describe-table --table-name toxic-api-keys >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-api-keys --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"key_hash","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"key_hash","KeyType":"HASH"}]' >/dev/null
fi
# Leases, such as the single-flight training lease.
if ! awslocal dynamodb describe-table --table-name toxic-leases >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name toxic-leases --billing-mode PAY_PER_REQUEST \
        --attribute-definitions '[{"AttributeName":"name","AttributeType":"S"}]' \
        --key-schema '[{"AttributeName":"name","KeyType":"HASH"}]' >/dev/null
fi

# The bucket; us-east-1 is the one region that refuses a LocationConstraint.
if ! awslocal s3api head-bucket --bucket toxic-artifacts >/dev/null 2>&1; then
    if [ "${region}" = us-east-1 ]; then
        awslocal s3api create-bucket --bucket toxic-artifacts >/dev/null
    else
        awslocal s3api create-bucket --bucket toxic-artifacts \
            --create-bucket-configuration "LocationConstraint=${region}" >/dev/null
    fi
fi

echo "toxic: the 'toxic' deployment is in place"
