//! One-line error text for adapters' error messages.

/// The error and its sources, by `Display` only (never a raw request or
/// response, which may carry credentials), folded onto one line.
pub fn cause_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .replace(":; ", ": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn sources_join_on_one_line() {
        let error = Outer(std::io::Error::other("connection refused\nby peer"));
        assert_eq!(
            cause_chain(&error),
            "outer failed: connection refused; by peer"
        );
    }
}
