# The stage's buckets (stacks/storage.py's): access logs, players' media (versioned) and
# the static site, none public (CloudFront reads them through origin access control).

variable "name" {
  type = string
}

resource "aws_s3_bucket" "logs" {
  bucket_prefix = "${var.name}-logs-"
  force_destroy = true
}

resource "aws_s3_bucket" "media" {
  bucket_prefix = "${var.name}-media-"
}

resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket" "static" {
  bucket_prefix = "${var.name}-static-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each                = { logs = aws_s3_bucket.logs.id, media = aws_s3_bucket.media.id, static = aws_s3_bucket.static.id }
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.id
}

output "media_bucket_domain" {
  value = aws_s3_bucket.media.bucket_regional_domain_name
}

output "static_bucket_domain" {
  value = aws_s3_bucket.static.bucket_regional_domain_name
}
