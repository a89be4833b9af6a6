//! Strict reading of what users write: a key that no field takes is refused,
//! naming the nearest known key ("did you mean ...?"), so that a typo such as
//! `allowAnonymus` cannot silently leave a listener at its default.
//!
//! The known keys come from the `Deserialize` derive itself
//! ([`field_names`]), so they cannot drift from the structs. The same rule
//! (edit distance, case-insensitive, within a third of the key's length) is
//! used by the TypeScript layer (`lib/src/strict.ts`).

use serde::de::{self, DeserializeOwned, Visitor};
use serde::forward_to_deserialize_any;

/// The keys a `#[derive(Deserialize)]` struct takes, as written in the input
/// (after `rename_all`), in declaration order.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    // The introspector fails every call but `deserialize_struct`, which
    // records the field list the derive passes.
    let _ = T::deserialize(Introspect(&mut fields));
    fields.unwrap_or(&[])
}

struct Introspect<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for Introspect<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The first key of `object` that is not in `known`, with the nearest known
/// key when one is close enough to be a likely typo.
pub fn unknown_key<'k>(
    object: &serde_json::Map<String, serde_json::Value>,
    known: &[&'k str],
) -> Option<(String, Option<&'k str>)> {
    object
        .keys()
        .find(|k| !known.contains(&k.as_str()))
        .map(|k| (k.clone(), nearest(k, known)))
}

/// The known key nearest to `key` (case-insensitive optimal-string-alignment
/// distance), if within a third of the longer one's length (at least 1);
/// ties go to the earlier key.
pub fn nearest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key_l = key.to_lowercase();
    known
        .iter()
        .map(|k| (*k, edit_distance(&key_l, &k.to_lowercase())))
        .filter(|(k, d)| *d <= (key.chars().count().max(k.chars().count()) / 3).max(1))
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and transpositions of neighbours each cost 1.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

/// What follows an unknown key in a message: `(did you mean "x"?)`, or the
/// known keys when none is close.
pub fn hint(suggestion: Option<&str>, known: &[&str]) -> String {
    match suggestion {
        Some(s) => format!("(did you mean \"{s}\"?)"),
        None => format!("(known keys: {})", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[expect(dead_code, reason = "only its field names are read")]
    struct Sample {
        allow_anonymous: bool,
        port: u16,
    }

    #[test]
    fn field_names_are_read_from_the_derive() {
        assert_eq!(field_names::<Sample>(), ["allowAnonymous", "port"]);
    }

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("allowanonymus", "allowanonymous"), 1);
        assert_eq!(
            edit_distance("tiemout", "timeout"),
            1,
            "a transposition is one edit"
        );
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn nearest_suggests_only_likely_typos() {
        let known = ["name", "allowAnonymous", "hookTimeoutMs", "tlsCert"];
        assert_eq!(nearest("allowAnonymus", &known), Some("allowAnonymous"));
        assert_eq!(nearest("hookTimeoutMS", &known), Some("hookTimeoutMs"));
        assert_eq!(nearest("tls_cert", &known), Some("tlsCert"));
        assert_eq!(nearest("limits", &known), None);
        assert_eq!(nearest("x", &["y"]), Some("y"), "one edit is always close");
    }
}
