//! Every key the settings file takes is documented where a site administrator looks: in
//! `deploy/keyhatch.toml` and in the README's Settings table. The keys come from the code, so a
//! new setting fails these tests until it is written down.

use std::path::Path;

use serde::de::{self, Deserializer, Visitor};

use super::FileSettings;

/// The keys of the `[keyhatch]` table, as serde reads them (kebab-case).
fn file_keys() -> &'static [&'static str] {
    /// A deserializer that only records the field names it is asked for.
    struct Fields(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Done;
    impl std::fmt::Display for Done {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("done")
        }
    }
    impl std::error::Error for Done {}
    impl de::Error for Done {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Self
        }
    }
    impl<'de> Deserializer<'de> for &mut Fields {
        type Error = Done;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Done> {
            Err(Done)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Done> {
            self.0 = Some(fields);
            Err(Done)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields = Fields(None);
    let _ = <FileSettings as serde::Deserialize>::deserialize(&mut fields);
    fields.0.expect("FileSettings is a struct")
}

fn repo(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_keys_are_read_from_the_code() {
    let keys = file_keys();
    assert!(
        keys.contains(&"public-url") && keys.contains(&"allowed-hosts"),
        "{keys:?}"
    );
}

#[test]
fn every_setting_is_in_the_shipped_settings_file() {
    let example = repo("deploy/keyhatch.toml");
    let written: Vec<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim_start())
        .filter_map(|l| l.split_once(" = ").map(|(key, _)| key))
        .collect();
    let missing: Vec<&&str> = file_keys()
        .iter()
        .filter(|k| !written.contains(k))
        .collect();
    assert!(missing.is_empty(), "deploy/keyhatch.toml lacks {missing:?}");
}

#[test]
fn every_setting_has_its_file_key_in_the_readme_table() {
    let readme = repo("README.md");
    let table = &readme[readme.find("## Settings").expect("a Settings section")..];
    let header = table
        .lines()
        .find(|l| l.starts_with("| setting"))
        .expect("the table");
    let column = header
        .split('|')
        .position(|c| c.trim() == "file key")
        .expect("a \"file key\" column");
    let keys: Vec<String> = table
        .lines()
        .take_while(|l| !l.starts_with("## ") || l.starts_with("## Settings"))
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(column).map(str::to_owned))
        .collect();
    let missing: Vec<&&str> = file_keys()
        .iter()
        .filter(|k| !keys.iter().any(|cell| cell.contains(&format!("`{k}`"))))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's Settings table lacks {missing:?}"
    );
}
