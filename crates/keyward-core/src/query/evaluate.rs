//! The query AST evaluated in memory, for data sets small enough to read whole (native users and
//! roles); API keys are queried by the store instead.

use std::cmp::Ordering;

use super::{
    FieldKind, FieldValue, MISSING_DATE_ASC, MISSING_DATE_DESC, Query, QueryField, Sort, SortKey,
    SortValue, wildcard_pattern,
};

/// Something a query can be evaluated against.
pub trait Document<F> {
    /// The field's values (none when it is missing; several for multi-valued fields).
    fn values(&self, field: &F) -> Vec<FieldValue>;

    /// The document id, for `ids` queries and as the final tie-breaker of sorts.
    fn id(&self) -> &str;
}

/// Whether `document` matches `query`.
pub fn matches<F, D: Document<F>>(query: &Query<F>, document: &D) -> bool {
    match query {
        Query::MatchAll => true,
        Query::MatchNone => false,
        Query::Bool {
            must,
            filter,
            should,
            must_not,
            minimum_should_match,
        } => {
            must.iter()
                .chain(filter)
                .all(|clause| matches(clause, document))
                && !must_not.iter().any(|clause| matches(clause, document))
                && should
                    .iter()
                    .filter(|clause| matches(clause, document))
                    .count()
                    >= *minimum_should_match
        }
        Query::Exists(field) => !document.values(field).is_empty(),
        Query::Ids(ids) => ids.iter().any(|id| id == document.id()),
        Query::Term {
            field,
            value,
            case_insensitive,
        } => document
            .values(field)
            .iter()
            .any(|candidate| equal(candidate, value, *case_insensitive)),
        Query::Terms { field, values } => document
            .values(field)
            .iter()
            .any(|candidate| values.iter().any(|value| equal(candidate, value, false))),
        Query::Prefix {
            field,
            prefix,
            case_insensitive,
        } => keywords(document, field, *case_insensitive)
            .iter()
            .any(|text| {
                let prefix = fold(prefix, *case_insensitive);
                text.starts_with(prefix.as_str())
            }),
        Query::Wildcard {
            field,
            pattern,
            case_insensitive,
        } => {
            let pattern = fold(&wildcard_pattern(pattern), *case_insensitive);
            keywords(document, field, *case_insensitive)
                .iter()
                .any(|text| crate::wildcard::matches(&pattern, text))
        }
        Query::Range {
            field,
            gt,
            gte,
            lt,
            lte,
        } => document.values(field).iter().any(|value| {
            let check = |bound: &Option<FieldValue>, accept: fn(Ordering) -> bool| {
                bound
                    .as_ref()
                    .is_none_or(|bound| compare(value, bound).is_some_and(accept))
            };
            check(gt, Ordering::is_gt)
                && check(gte, Ordering::is_ge)
                && check(lt, Ordering::is_lt)
                && check(lte, Ordering::is_le)
        }),
    }
}

/// Sorts `documents` (all of which match), keeps those after `search_after`, and cuts the page:
/// the total number of documents and the page with each document's sort values (empty lists when
/// `sort` is empty).
pub fn sort_and_page<F: QueryField, D: Document<F>>(
    documents: Vec<D>,
    sort: &[Sort<F>],
    from: u64,
    size: u64,
    search_after: Option<&[SortValue]>,
) -> (u64, Vec<(D, Vec<SortValue>)>) {
    let total = u64::try_from(documents.len()).unwrap_or(u64::MAX);
    let mut keyed: Vec<(Vec<SortValue>, D)> = documents
        .into_iter()
        .enumerate()
        .map(|(position, document)| {
            let values = sort
                .iter()
                .map(|clause| sort_value(&document, clause, position))
                .collect();
            (values, document)
        })
        .collect();
    keyed.sort_by(|(left_values, left), (right_values, right)| {
        order(left_values, right_values, sort).then_with(|| left.id().cmp(right.id()))
    });
    if let Some(after) = search_after {
        let after = normalise(after, sort);
        keyed.retain(|(values, _)| order(&normalise(values, sort), &after, sort).is_gt());
    }
    let page = keyed
        .into_iter()
        .skip(usize::try_from(from).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|(values, document)| (document, values))
        .collect();
    (total, page)
}

fn sort_value<F: QueryField, D: Document<F>>(
    document: &D,
    clause: &Sort<F>,
    position: usize,
) -> SortValue {
    let field = match &clause.key {
        SortKey::Doc => return SortValue::Long(i64::try_from(position).unwrap_or(i64::MAX)),
        SortKey::Field(field) => field,
    };
    let mut values: Vec<SortValue> = document
        .values(field)
        .into_iter()
        .map(|value| match value {
            FieldValue::Boolean(flag) => SortValue::Long(i64::from(flag)),
            FieldValue::Date(millis) => SortValue::Long(millis),
            FieldValue::Keyword(text) => SortValue::Text(text),
        })
        .collect();
    values.sort_by(compare_sort_values);
    // A multi-valued field sorts by its smallest value ascending, its largest descending.
    let chosen = if clause.descending {
        values.pop()
    } else {
        values.into_iter().next()
    };
    match chosen {
        Some(value) => value,
        None if field.kind() == FieldKind::Date => SortValue::Long(if clause.descending {
            MISSING_DATE_DESC
        } else {
            MISSING_DATE_ASC
        }),
        None => SortValue::Null,
    }
}

/// Sort values with the date placeholders for "missing" turned back into `Null`.
fn normalise<F: QueryField>(values: &[SortValue], sort: &[Sort<F>]) -> Vec<SortValue> {
    values
        .iter()
        .zip(sort)
        .map(|(value, clause)| match (value, &clause.key) {
            (SortValue::Long(MISSING_DATE_ASC | MISSING_DATE_DESC), SortKey::Field(field))
                if field.kind() == FieldKind::Date =>
            {
                SortValue::Null
            }
            (other, _) => other.clone(),
        })
        .collect()
}

/// Compares two rows of sort values clause by clause; missing values come last either way.
fn order<F>(left: &[SortValue], right: &[SortValue], sort: &[Sort<F>]) -> Ordering {
    for ((left, right), clause) in left.iter().zip(right).zip(sort) {
        let ordering = match (left, right) {
            (SortValue::Null, SortValue::Null) => Ordering::Equal,
            (SortValue::Null, _) => Ordering::Greater,
            (_, SortValue::Null) => Ordering::Less,
            (left, right) if clause.descending => compare_sort_values(right, left),
            (left, right) => compare_sort_values(left, right),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

fn compare_sort_values(left: &SortValue, right: &SortValue) -> Ordering {
    match (left, right) {
        (SortValue::Long(left), SortValue::Long(right)) => left.cmp(right),
        (SortValue::Text(left), SortValue::Text(right)) => left.cmp(right),
        (SortValue::Null, SortValue::Null) => Ordering::Equal,
        (SortValue::Long(_), _) => Ordering::Less,
        (_, SortValue::Long(_)) => Ordering::Greater,
        (SortValue::Text(_), SortValue::Null) => Ordering::Less,
        (SortValue::Null, SortValue::Text(_)) => Ordering::Greater,
    }
}

fn keywords<F, D: Document<F>>(document: &D, field: &F, case_insensitive: bool) -> Vec<String> {
    document
        .values(field)
        .into_iter()
        .filter_map(|value| match value {
            FieldValue::Keyword(text) => Some(fold(&text, case_insensitive)),
            FieldValue::Boolean(_) | FieldValue::Date(_) => None,
        })
        .collect()
}

fn fold(text: &str, case_insensitive: bool) -> String {
    if case_insensitive {
        text.to_ascii_lowercase()
    } else {
        text.to_owned()
    }
}

fn equal(candidate: &FieldValue, value: &FieldValue, case_insensitive: bool) -> bool {
    match (candidate, value) {
        (FieldValue::Keyword(left), FieldValue::Keyword(right)) if case_insensitive => {
            left.eq_ignore_ascii_case(right)
        }
        (left, right) => left == right,
    }
}

fn compare(value: &FieldValue, bound: &FieldValue) -> Option<Ordering> {
    match (value, bound) {
        (FieldValue::Keyword(left), FieldValue::Keyword(right)) => Some(left.cmp(right)),
        (FieldValue::Date(left), FieldValue::Date(right)) => Some(left.cmp(right)),
        (FieldValue::Boolean(left), FieldValue::Boolean(right)) => Some(left.cmp(right)),
        _ => None,
    }
}
