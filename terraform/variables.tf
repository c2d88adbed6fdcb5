variable "prefix" {
  description = "Deployment prefix of every name (TOXIC_PREFIX); the bucket name makes it global, so choose one nobody else uses."
  type        = string
  default     = "toxic"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "The prefix must be 3-32 characters of a-z, 0-9 and '-', starting with a letter (as TOXIC_PREFIX)."
  }
}

variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-1"
}

variable "domain_name" {
  description = "Domain under which the load balancer serves api.<domain>, app.<domain> (frontend) and dashboard.<domain>; point those names at the load balancer."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the three host names above (a wildcard *.<domain> will do)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the images in the ECR repository: <tag> for the services (Dockerfile target `service`), mlflow-<tag> for MLflow (target `mlflow`)."
  type        = string
}

variable "vpc_cidr" {
  description = "Address range of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Zones to spread subnets, tasks and the database over, named explicitly so the set never grows by itself; they must be in var.region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Use 2 to 4 availability zones (the load balancer and RDS need at least 2)."
  }
}

variable "api_min_count" {
  description = "Fewest API replicas; more are added on CPU load."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "Most API replicas."
  type        = number
  default     = 10
}

variable "consumer_min_count" {
  description = "Fewest logger and monitoring consumers each."
  type        = number
  default     = 1
}

variable "consumer_max_count" {
  description = "Most logger and monitoring consumers each."
  type        = number
  default     = 8
}

variable "backlog_per_consumer" {
  description = "Visible messages per running consumer the queue-depth scaling aims at."
  type        = number
  default     = 500
}

variable "db_instance_class" {
  description = "RDS instance class of MLflow's PostgreSQL."
  type        = string
  default     = "db.t4g.medium"
}

variable "postgres_version" {
  description = "PostgreSQL major version for MLflow's backend store."
  type        = string
  default     = "17"
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps service logs."
  type        = number
  default     = 365
}

variable "gc_schedule" {
  description = "When `toxic infra gc` removes queues of API replicas that died (EventBridge Scheduler expression)."
  type        = string
  default     = "rate(15 minutes)"
}
