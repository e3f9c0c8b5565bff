use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::StoreError;

/// Where requests live: `s3://bucket/prefix`, `file:///path`, or a bare directory path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    S3 { bucket: String, prefix: String },
    Local(PathBuf),
}

impl FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid(
                "it is empty; use s3://bucket/prefix, file:///path or a directory",
            ));
        }
        if let Some(rest) = trimmed.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            validate_bucket(bucket).map_err(invalid)?;
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
                return Err(invalid("the prefix has an empty, `.` or `..` segment"));
            }
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(rest) = trimmed.strip_prefix("file://") {
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid(
                    "a file URL needs an absolute path (file:///srv/tfpilot); for a relative path give the path alone",
                ));
            }
            return Ok(StoreUrl::Local(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(invalid(&format!(
                "the scheme `{scheme}` is not supported; use s3://bucket/prefix, file:///path or a directory"
            )));
        }
        Ok(StoreUrl::Local(PathBuf::from(trimmed)))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            StoreUrl::Local(path) => write!(f, "file://{}", path.display()),
        }
    }
}

/// S3's bucket naming rules, so a typo fails here and not as an opaque 400 later.
fn validate_bucket(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name is 3 to 63 characters long");
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Err("a bucket name uses lowercase letters, digits, `-` and `.` only");
    }
    let edges = [bucket.chars().next(), bucket.chars().last()];
    if edges
        .iter()
        .any(|c| !c.is_some_and(|c| c.is_ascii_alphanumeric()))
    {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreUrl, String> {
        text.parse::<StoreUrl>().map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("s3://my-bucket").unwrap(),
            StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            parse("s3://my-bucket/team/a/").unwrap(),
            StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "team/a".into()
            }
        );
        assert_eq!(
            parse("file:///srv/tfpilot").unwrap(),
            StoreUrl::Local("/srv/tfpilot".into())
        );
        assert_eq!(
            parse("file://localhost/srv").unwrap(),
            StoreUrl::Local("/srv".into())
        );
        assert_eq!(
            parse("examples/store").unwrap(),
            StoreUrl::Local("examples/store".into())
        );
    }

    #[test]
    fn displays_round_trip() {
        for text in [
            "s3://my-bucket",
            "s3://my-bucket/team/a",
            "file:///srv/tfpilot",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_urls_say_what_to_do() {
        assert!(parse("gs://bucket").unwrap_err().contains("not supported"));
        assert!(parse("s3://Bad_Bucket").unwrap_err().contains("lowercase"));
        assert!(parse("s3://ab").unwrap_err().contains("3 to 63"));
        assert!(
            parse("file://relative/path")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(parse("s3://bucket/a/../b").unwrap_err().contains(".."));
        assert!(parse("  ").unwrap_err().contains("empty"));
    }
}
