use super::*;
use crate::api::op::{CheckHome, ListKeys, RevokeKey};
use crate::model::KeyList;

fn list() -> KeyList {
    KeyList {
        path: "/home/alice/.ssh/authorized_keys".into(),
        keys: Vec::new(),
        keys_not_listed: 0,
        other_keys: 0,
        unreadable_lines: Vec::new(),
        unreadable_lines_not_listed: 0,
        problems: Vec::new(),
        from_lists: Vec::new(),
        usage: None,
    }
}

#[test]
fn an_answer_for_another_operation_is_refused() {
    let done = serde_json::to_vec(&Ok::<(), AppError>(())).unwrap();
    let listed = serde_json::to_vec(&Ok::<KeyList, AppError>(list())).unwrap();
    let err = read_answer::<ListKeys>(&done).unwrap_err();
    assert!(err.to_string().contains("unreadable answer"), "{err}");
    let err = read_answer::<RevokeKey>(&listed).unwrap_err();
    assert!(err.to_string().contains("unreadable answer"), "{err}");
    assert_eq!(read_answer::<ListKeys>(&listed).unwrap(), list());
    read_answer::<CheckHome>(&done).unwrap();
}

#[test]
fn an_error_reads_as_itself_whatever_the_operation() {
    let refused = AppError::NotFound("no key with fingerprint SHA256:x is in the file".into());
    let bytes = serde_json::to_vec(&Err::<(), AppError>(refused.clone())).unwrap();
    assert_eq!(read_answer::<RevokeKey>(&bytes).unwrap_err(), refused);
    assert_eq!(read_answer::<ListKeys>(&bytes).unwrap_err(), refused);
}
