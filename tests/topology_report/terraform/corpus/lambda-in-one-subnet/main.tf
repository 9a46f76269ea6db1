# Lambda attached to a VPC with one subnet, behind a function URL
module "net" {
  source = "../modules/net"
}

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
  vpc_config {
    subnet_ids         = [module.net.SubA]
    security_group_ids = ["sg-0123456789abcdef0"]
  }
}

resource "aws_lambda_function_url" "Url" {
  function_name      = aws_lambda_function.Fn.function_name
  authorization_type = "NONE"
}
