# The API scales on CPU; logger and monitoring scale on their queue's backlog per running task
# (AWS's recommended measure for SQS consumers). Training does not scale: it has one consumer.

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.service["api"].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api_min_count
  max_capacity       = var.api_max_count
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.prefix}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

locals {
  scaled_consumers = toset(["logger", "monitoring"])
}

resource "aws_appautoscaling_target" "consumer" {
  for_each = local.scaled_consumers

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.service[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.consumer_min_count
  max_capacity       = var.consumer_max_count
}

resource "aws_appautoscaling_policy" "consumer_backlog" {
  for_each = local.scaled_consumers

  name               = "${var.prefix}-${each.key}-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.consumer[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.consumer[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.consumer[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_consumer
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Messages waiting in ${aws_sqs_queue.work[each.key].name}"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.work[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running ${each.key} tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main.name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.service[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "Messages waiting per ${each.key} task"
        expression  = "visible / IF(tasks > 0, tasks, 1)"
        return_data = true
      }
    }
  }
}
