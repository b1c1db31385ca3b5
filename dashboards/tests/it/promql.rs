//! The metric names a PromQL expression selects, by a small lexer: string
//! literals, label matchers `{...}`, ranges `[...]` and the label lists of
//! `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` are
//! skipped; an identifier followed by `(` is a function, and aggregation
//! operators are known by name (`sum by (x) (...)`);
//! keywords are not names. promtool has parsed the expression before this
//! runs, so the lexer need not reject anything.

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "atan2",
];
/// Aggregation operators, which may take `by (...)` before their parentheses.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn skip_string(chars: &[char], mut i: usize) -> usize {
    let quote = chars[i];
    i += 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Index after the bracket that closes the one at `i`, strings skipped.
fn skip_group(chars: &[char], mut i: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Metric names selected by `expr`, in order of appearance, repeated as often as selected.
pub fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_group(&chars, i, '{', '}');
        } else if c == '[' {
            i = skip_group(&chars, i, '[', ']');
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A number or a duration such as 5m or 1e3.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if call {
                    i = skip_group(&chars, next, '(', ')');
                }
            } else if !call
                && !KEYWORDS.contains(&word.as_str())
                && !AGGREGATIONS.contains(&word.as_str())
            {
                out.push(word);
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn names_not_functions_labels_strings_or_durations() {
    let e = r#"sum by (mode) (rate(node_cpu_seconds_total{job=~"a|b",mode!="idle"}[5m])) / scalar(count(node_cpu_seconds_total{mode="idle"}))"#;
    assert_eq!(
        metric_names(e),
        ["node_cpu_seconds_total", "node_cpu_seconds_total"]
    );
    let e = r#"(homelab:service_down_seconds or on(service) (homelab:service_rto_seconds * 0)) / on(service) group_left(tier) homelab:service_rto_seconds"#;
    assert_eq!(
        metric_names(e),
        [
            "homelab:service_down_seconds",
            "homelab:service_rto_seconds",
            "homelab:service_rto_seconds"
        ]
    );
    let e = r#"count(ALERTS{alertstate="firing",x="up{y}"}) or vector(0) + 1e3 - time() offset 5m"#;
    assert_eq!(metric_names(e), ["ALERTS"]);
    let e = "(a and on(instance, name) b{c=\"d\"}) unless ignoring(x) c bool > 2";
    assert_eq!(metric_names(e), ["a", "b", "c"]);
}
