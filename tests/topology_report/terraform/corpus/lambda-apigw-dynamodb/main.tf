# Lambda behind an API Gateway REST API with DynamoDB
resource "aws_iam_role" "FnRole" {
  assume_role_policy = jsonencode({
    Version = "2012-10-17",
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" },
    Action = "sts:AssumeRole" }]
  })
}

resource "aws_dynamodb_table" "Table" {
  name         = "corpus"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  attribute {
    name = "pk"
    type = "S"
  }
}

resource "aws_lambda_function" "Fn" {
  function_name = "corpus"
  runtime       = "python3.12"
  handler       = "index.handler"
  role          = aws_iam_role.FnRole.arn
  s3_bucket     = "corpus-code"
  s3_key        = "fn.zip"
}

resource "aws_api_gateway_rest_api" "Api" {
  name = "game"
}

resource "aws_api_gateway_resource" "Proxy" {
  rest_api_id = aws_api_gateway_rest_api.Api.id
  parent_id   = aws_api_gateway_rest_api.Api.root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "AnyMethod" {
  rest_api_id   = aws_api_gateway_rest_api.Api.id
  resource_id   = aws_api_gateway_resource.Proxy.id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "AnyIntegration" {
  rest_api_id             = aws_api_gateway_rest_api.Api.id
  resource_id             = aws_api_gateway_resource.Proxy.id
  http_method             = aws_api_gateway_method.AnyMethod.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.Fn.invoke_arn
}

resource "aws_api_gateway_deployment" "Deployment" {
  rest_api_id = aws_api_gateway_rest_api.Api.id
  depends_on  = [aws_api_gateway_integration.AnyIntegration]
}

resource "aws_api_gateway_stage" "Prod" {
  rest_api_id   = aws_api_gateway_rest_api.Api.id
  deployment_id = aws_api_gateway_deployment.Deployment.id
  stage_name    = "prod"
}

resource "aws_lambda_permission" "Invoke" {
  function_name = aws_lambda_function.Fn.function_name
  action        = "lambda:InvokeFunction"
  principal     = "apigateway.amazonaws.com"
}
