output "load_balancer_dns_name" {
  description = "Point api.<domain>, app.<domain> and dashboard.<domain> here (CNAME or alias)."
  value       = aws_lb.main.dns_name
}

output "urls" {
  description = "Where the HTTP services answer once DNS points at the load balancer."
  value       = { for name, http in local.http_services : name => "https://${http.host}" }
}

output "image_repository" {
  description = "Push the images here: <tag> (target service) and mlflow-<tag> (target mlflow)."
  value       = aws_ecr_repository.main.repository_url
}

output "cluster" {
  description = "The ECS cluster, for `aws ecs run-task` one-offs such as `toxic keys create`."
  value       = aws_ecs_cluster.main.name
}

output "database_secret_arn" {
  description = "Secrets Manager secret holding MLflow's database login."
  value       = aws_secretsmanager_secret.database.arn
}
