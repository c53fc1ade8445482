//! Geo commands over the socket: scores bit for bit as Redis stores them, positions and
//! distances as Redis 7.4+ prints them, searches, stores and errors. Expected bytes were taken
//! from redis-server 8.2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::call;
use common::RawClient;

async fn sicily() -> (common::TestServer, RawClient) {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania", "13.583333", "37.316667", "Agrigento"]).await;
    (server, c)
}

#[tokio::test]
async fn geoadd_stores_redis_52_bit_geohash_scores() {
    let (_server, mut c) = sicily().await;
    assert_eq!(
        call(&mut c, &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]).await,
        "*6\r\n$9\r\nAgrigento\r\n$16\r\n3479030013248308\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n"
    );
    assert_eq!(call(&mut c, &["TYPE", "Sicily"]).await, "+zset\r\n");
    assert_eq!(call(&mut c, &["GEOADD", "Sicily", "200", "10", "x"]).await, "-ERR invalid longitude,latitude pair 200.000000,10.000000\r\n");
    assert_eq!(call(&mut c, &["GEOADD", "Sicily", "NX", "XX", "1", "2", "m"]).await, "-ERR syntax error\r\n");
    assert_eq!(call(&mut c, &["GEOADD", "Sicily", "CH", "13.5", "37.3", "Agrigento"]).await, ":1\r\n");
}

#[tokio::test]
async fn geopos_prints_cell_centres_as_shortest_doubles() {
    let (_server, mut c) = sicily().await;
    assert_eq!(
        call(&mut c, &["GEOPOS", "Sicily", "Palermo", "Nope"]).await,
        "*2\r\n*2\r\n$18\r\n13.361389338970184\r\n$16\r\n38.1155563954963\r\n*-1\r\n"
    );
    call(&mut c, &["HELLO", "3"]).await;
    assert_eq!(call(&mut c, &["GEOPOS", "Sicily", "Catania"]).await, "*1\r\n*2\r\n,15.087267458438873\r\n,37.50266842333162\r\n");
}

#[tokio::test]
async fn geodist_and_geohash_match_redis() {
    let (_server, mut c) = sicily().await;
    assert_eq!(call(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"]).await, "$11\r\n166274.1516\r\n");
    assert_eq!(call(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]).await, "$8\r\n166.2742\r\n");
    assert_eq!(call(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "furlong"]).await, "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n");
    assert_eq!(call(&mut c, &["GEODIST", "Sicily", "Palermo", "Nope"]).await, "$-1\r\n");
    assert_eq!(call(&mut c, &["GEOHASH", "Sicily", "Palermo", "Catania", "Nope"]).await, "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n");
}

#[tokio::test]
async fn geosearch_finds_members_in_a_radius_or_box() {
    let (_server, mut c) = sicily().await;
    assert_eq!(
        call(&mut c, &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "150", "km", "ASC", "WITHDIST"]).await,
        "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n"
    );
    assert_eq!(
        call(&mut c, &["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "DESC", "COUNT", "1", "WITHHASH"]).await,
        "*1\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909\r\n"
    );
    assert_eq!(call(&mut c, &["GEOSEARCH", "Sicily", "FROMMEMBER", "Nope", "BYRADIUS", "1", "m"]).await, "-ERR could not decode requested zset member\r\n");
    assert_eq!(call(&mut c, &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m", "ANY"]).await, "-ERR the ANY argument requires COUNT argument\r\n");
    assert_eq!(call(&mut c, &["GEOSEARCH", "Sicily", "BYRADIUS", "1", "m", "ASC", "WITHDIST"]).await, "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH\r\n");
    assert_eq!(
        call(&mut c, &["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "ASC", "WITHDIST"]).await,
        "-ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH\r\n"
    );
    assert_eq!(call(&mut c, &["GEOSEARCH", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"]).await, "*0\r\n");
}

#[tokio::test]
async fn geosearchstore_stores_hashes_or_distances() {
    let (_server, mut c) = sicily().await;
    assert_eq!(call(&mut c, &["GEOSEARCHSTORE", "near", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "ASC"]).await, ":1\r\n");
    assert_eq!(call(&mut c, &["ZSCORE", "near", "Catania"]).await, "$16\r\n3479447370796909\r\n");
    call(&mut c, &["GEOSEARCHSTORE", "near", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "STOREDIST"]).await;
    assert_eq!(call(&mut c, &["ZSCORE", "near", "Catania"]).await, "$16\r\n56.4412578701582\r\n");
    assert_eq!(
        call(&mut c, &["GEOSEARCHSTORE", "near", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "WITHDIST"]).await,
        "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"
    );
    assert_eq!(call(&mut c, &["GEOSEARCHSTORE", "near", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"]).await, ":0\r\n");
    assert_eq!(call(&mut c, &["EXISTS", "near"]).await, ":0\r\n");
}
