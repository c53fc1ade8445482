//! SORT and SORT_RO over the socket: numeric and ALPHA orders, BY and GET patterns (string
//! keys and hash fields), LIMIT, STORE with its event, and the errors. The same cases run
//! against redis-server in `tests/differential/sort.redis`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::call;

#[tokio::test]
async fn sort_orders_numbers_numerically_and_strings_with_alpha() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["RPUSH", "l", "10", "9", "-1"]).await;
    assert_eq!(call(&mut c, &["SORT", "l"]).await, "*3\r\n$2\r\n-1\r\n$1\r\n9\r\n$2\r\n10\r\n");
    assert_eq!(call(&mut c, &["SORT", "l", "ALPHA"]).await, "*3\r\n$2\r\n-1\r\n$2\r\n10\r\n$1\r\n9\r\n");
    assert_eq!(call(&mut c, &["SORT", "l", "DESC", "LIMIT", "0", "1"]).await, "*1\r\n$2\r\n10\r\n");
    call(&mut c, &["RPUSH", "w", "b", "a"]).await;
    assert_eq!(call(&mut c, &["SORT", "w"]).await, "-ERR One or more scores can't be converted into double\r\n");
    assert_eq!(call(&mut c, &["SORT", "w", "LIMIT", "x", "1"]).await, "-ERR value is not an integer or out of range\r\n");
    call(&mut c, &["SET", "s", "x"]).await;
    assert_eq!(call(&mut c, &["SORT", "s"]).await, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

#[tokio::test]
async fn by_and_get_patterns_read_strings_and_hash_fields() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["SADD", "users", "1", "2", "3"]).await;
    call(&mut c, &["MSET", "age_1", "30", "age_2", "20", "age_3", "25"]).await;
    call(&mut c, &["HSET", "user_1", "name", "ann"]).await;
    call(&mut c, &["HSET", "user_2", "name", "bob"]).await;
    assert_eq!(
        call(&mut c, &["SORT", "users", "BY", "age_*", "GET", "#", "GET", "user_*->name"]).await,
        "*6\r\n$1\r\n2\r\n$3\r\nbob\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n$3\r\nann\r\n"
    );
    call(&mut c, &["HELLO", "3"]).await;
    assert_eq!(call(&mut c, &["SORT", "users", "BY", "age_*", "LIMIT", "1", "1", "GET", "user_*->name"]).await, "*1\r\n_\r\n");
}

#[tokio::test]
async fn store_saves_a_list_and_sort_ro_refuses_it() {
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", "Kg").unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"SUBSCRIBE", b"__keyspace@0__:out"]).await;
    let mut c = server.raw().await;
    call(&mut c, &["ZADD", "z", "2", "b", "1", "a"]).await;
    assert_eq!(call(&mut c, &["SORT", "z", "BY", "nosort", "STORE", "out"]).await, ":2\r\n");
    assert_eq!(call(&mut c, &["LRANGE", "out", "0", "-1"]).await, "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    let event = String::from_utf8_lossy(&listener.read_reply().await.unwrap()).into_owned();
    assert!(event.ends_with("$9\r\nsortstore\r\n"), "{event}");
    assert_eq!(call(&mut c, &["SORT_RO", "z", "STORE", "out"]).await, "-ERR syntax error\r\n");
    assert_eq!(call(&mut c, &["SORT", "missing", "STORE", "out"]).await, ":0\r\n");
    assert_eq!(call(&mut c, &["EXISTS", "out"]).await, ":0\r\n");
}
