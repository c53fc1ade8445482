//! Geo commands on top of sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH,
//! GEOSEARCHSTORE.
//!
//! A position is stored as a sorted set score: Redis's 52-bit geohash, longitude and latitude
//! each quantised to 26 bits over [-180, 180] and [-85.05112878, 85.05112878] and interleaved
//! (latitude on the even bits), so scores match Redis bit for bit. Distances use Redis's
//! haversine with an earth radius of 6372797.560856 m.
//!
//! GEOSEARCH tests every member of the set against the shape (Redis visits the nine geohash
//! cells around the centre, which cover the same shape, so the same members match). Results
//! come back sorted by distance, nearest first, unless DESC is given; Redis without ASC/DESC
//! and COUNT replies in its cell-visiting order, which Herald does not reproduce.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::zset::{limits, store_result, zset_mut};
use super::{args, errors, CommandSpec, Ctx};
use crate::keyspace::zset::ZSet;
use crate::resp::{parse_i64, Reply};
use bytes::Bytes;

const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
const STEP: u32 = 26;
const EARTH_RADIUS_M: f64 = 6372797.560856;

fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    u32::try_from(x).unwrap_or(0)
}

/// Interleaves a position into a 52-bit hash over the given latitude range.
fn encode(lon: f64, lat: f64, lat_min: f64, lat_max: f64) -> u64 {
    let scale = f64::from(1u32 << STEP);
    let lat_offset = (lat - lat_min) / (lat_max - lat_min) * scale;
    let lon_offset = (lon - LON_MIN) / (LON_MAX - LON_MIN) * scale;
    spread(lat_offset as u32) | (spread(lon_offset as u32) << 1)
}

/// The centre of the cell a 52-bit hash names, as `(longitude, latitude)`.
pub fn decode(bits: u64) -> (f64, f64) {
    let scale = f64::from(1u32 << STEP);
    let ilat = f64::from(squash(bits));
    let ilon = f64::from(squash(bits >> 1));
    let lat_min = LAT_MIN + ilat / scale * (LAT_MAX - LAT_MIN);
    let lat_max = LAT_MIN + (ilat + 1.0) / scale * (LAT_MAX - LAT_MIN);
    let lon_min = LON_MIN + ilon / scale * (LON_MAX - LON_MIN);
    let lon_max = LON_MIN + (ilon + 1.0) / scale * (LON_MAX - LON_MIN);
    let lon = ((lon_min + lon_max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((lat_min + lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn deg_rad(degrees: f64) -> f64 {
    degrees * (std::f64::consts::PI / 180.0)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Redis's haversine distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lat1r, lon1r, lat2r, lon2r) = (deg_rad(lat1), deg_rad(lon1), deg_rad(lat2), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A coordinate as Redis 7.4+ replies it: the shortest text that reads back (a bulk string in
/// RESP2, a double in RESP3).
fn coord_reply(value: f64) -> Reply {
    Reply::Double(value)
}

fn distance_reply(meters: f64, to_meter: f64) -> Reply {
    Reply::bulk(format!("{:.4}", meters / to_meter))
}

fn unit(arg: &[u8]) -> Result<f64, Reply> {
    match arg.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err(Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI")),
    }
}

fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    args::float(arg).map_err(|_| errors::not_float())
}

fn check_pair(lon: f64, lat: f64) -> Result<(), Reply> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(Reply::error(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok(())
}

/// `GEOADD key [NX | XX] [CH] longitude latitude member [...]`: adds positions (as ZADD
/// adds scores; the event is `zadd`). Replies how many were added (with CH: or changed).
/// Errors: `ERR syntax error` (also for NX with XX), `ERR value is not a valid float`, `ERR invalid longitude,latitude pair ...`, `WRONGTYPE`.
fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut i = 2;
    let (mut nx, mut xx, mut ch) = (false, false, false);
    while let Some(arg) = args.get(i) {
        if args::is(arg, "nx") {
            nx = true;
        } else if args::is(arg, "xx") {
            xx = true;
        } else if args::is(arg, "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = args.get(i..).unwrap_or_default();
    if rest.is_empty() || rest.len() % 3 != 0 {
        return errors::syntax();
    }
    if nx && xx {
        return errors::syntax();
    }
    // Re-issue as ZADD with the scores, as Redis does.
    let mut zadd_args = vec![Bytes::from_static(b"zadd"), args[1].clone()];
    for (flag, on) in [("nx", nx), ("xx", xx), ("ch", ch)] {
        if on {
            zadd_args.push(Bytes::from_static(flag.as_bytes()));
        }
    }
    for triple in rest.chunks_exact(3) {
        let (lon, lat) = match (float_arg(&triple[0]), float_arg(&triple[1])) {
            (Ok(lon), Ok(lat)) => (lon, lat),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        if let Err(e) = check_pair(lon, lat) {
            return e;
        }
        let score = encode(lon, lat, LAT_MIN, LAT_MAX);
        zadd_args.push(Bytes::from(score.to_string()));
        zadd_args.push(triple[2].clone());
    }
    match super::lookup(b"zadd").and_then(|spec| spec.handler) {
        Some(handler) => handler(ctx, &zadd_args),
        None => errors::syntax(),
    }
}

/// A member's decoded `(longitude, latitude, score bits)`.
type Position = (f64, f64, u64);

/// The decoded position of each member, or `None` if missing. `WRONGTYPE` if not a zset.
fn positions(ctx: &mut Ctx<'_>, key: &[u8], members: &[Bytes]) -> Result<Vec<Option<Position>>, Reply> {
    let db = ctx.client.db;
    let zset = zset_mut(ctx.keyspace, db, key)?;
    Ok(members
        .iter()
        .map(|m| zset.as_ref().and_then(|z| z.score(m)).map(|s| {
            let bits = s as u64;
            let (lon, lat) = decode(bits);
            (lon, lat, bits)
        }))
        .collect())
}

/// `GEOPOS key member [member ...]`: each member's `[longitude, latitude]`, or null.
/// Errors: `WRONGTYPE`.
fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match positions(ctx, &args[1], &args[2..]) {
        Err(e) => e,
        Ok(found) => Reply::Array(
            found
                .into_iter()
                .map(|p| match p {
                    None => Reply::NullArray,
                    Some((lon, lat, _)) => Reply::Array(vec![coord_reply(lon), coord_reply(lat)]),
                })
                .collect(),
        ),
    }
}

/// `GEODIST key member1 member2 [M | KM | FT | MI]`: the distance between two members
/// (`%.4f` in the unit), or null if either is missing.
/// Errors: `ERR unsupported unit provided. please use M, KM, FT, MI`, `ERR syntax error`,
/// `WRONGTYPE`.
fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let to_meter = match args.len() {
        4 => 1.0,
        5 => match unit(&args[4]) {
            Ok(u) => u,
            Err(e) => return e,
        },
        _ => return errors::syntax(),
    };
    match positions(ctx, &args[1], &args[2..4]) {
        Err(e) => e,
        Ok(found) => match (found.first().copied().flatten(), found.get(1).copied().flatten()) {
            (Some((lon1, lat1, _)), Some((lon2, lat2, _))) => distance_reply(distance(lon1, lat1, lon2, lat2), to_meter),
            _ => Reply::Null,
        },
    }
}

/// `GEOHASH key member [member ...]`: each member's 11-character standard geohash, or null.
/// Errors: `WRONGTYPE`.
fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    match positions(ctx, &args[1], &args[2..]) {
        Err(e) => e,
        Ok(found) => Reply::Array(
            found
                .into_iter()
                .map(|p| match p {
                    None => Reply::Null,
                    Some((lon, lat, _)) => {
                        let bits = encode(lon, lat, -90.0, 90.0);
                        let text: Vec<u8> = (0..11u32)
                            .map(|i| {
                                let index = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
                                ALPHABET.get(usize::try_from(index).unwrap_or(0)).copied().unwrap_or(b'0')
                            })
                            .collect();
                        Reply::bulk(text)
                    }
                })
                .collect(),
        ),
    }
}

enum Shape {
    Radius(f64),
    Box(f64, f64),
}

struct Search {
    center: Option<(f64, f64)>,
    from_member: Option<Bytes>,
    shape: Option<(Shape, f64)>,
    desc: Option<bool>,
    count: Option<usize>,
    any: bool,
    withcoord: bool,
    withdist: bool,
    withhash: bool,
    storedist: bool,
}

fn parse_search(args: &[Bytes], store: bool) -> Result<Search, Reply> {
    let mut s = Search { center: None, from_member: None, shape: None, desc: None, count: None, any: false, withcoord: false, withdist: false, withhash: false, storedist: false };
    let mut i = 0;
    let arg = |i: usize| args.get(i).ok_or_else(errors::syntax);
    while let Some(word) = args.get(i) {
        let w = word.to_ascii_lowercase();
        match w.as_slice() {
            b"frommember" => {
                if s.center.is_some() || s.from_member.is_some() {
                    return Err(errors::syntax());
                }
                s.from_member = Some(arg(i + 1)?.clone());
                i += 1;
            }
            b"fromlonlat" => {
                if s.center.is_some() || s.from_member.is_some() {
                    return Err(errors::syntax());
                }
                let lon = float_arg(arg(i + 1)?)?;
                let lat = float_arg(arg(i + 2)?)?;
                check_pair(lon, lat)?;
                s.center = Some((lon, lat));
                i += 2;
            }
            b"byradius" => {
                if s.shape.is_some() {
                    return Err(errors::syntax());
                }
                let radius = args::float(arg(i + 1)?).map_err(|_| Reply::error("ERR need numeric radius"))?;
                if radius < 0.0 {
                    return Err(Reply::error("ERR radius cannot be negative"));
                }
                let u = unit(arg(i + 2)?)?;
                s.shape = Some((Shape::Radius(radius * u), u));
                i += 2;
            }
            b"bybox" => {
                if s.shape.is_some() {
                    return Err(errors::syntax());
                }
                let width = args::float(arg(i + 1)?).map_err(|_| Reply::error("ERR need numeric width"))?;
                let height = args::float(arg(i + 2)?).map_err(|_| Reply::error("ERR need numeric height"))?;
                if width < 0.0 || height < 0.0 {
                    return Err(Reply::error("ERR height or width cannot be negative"));
                }
                let u = unit(arg(i + 3)?)?;
                s.shape = Some((Shape::Box(width * u, height * u), u));
                i += 3;
            }
            b"asc" => s.desc = Some(false),
            b"desc" => s.desc = Some(true),
            b"count" => {
                let n = parse_i64(arg(i + 1)?).ok_or_else(errors::not_integer)?;
                if n <= 0 {
                    return Err(Reply::error("ERR COUNT must be > 0"));
                }
                s.count = Some(usize::try_from(n).unwrap_or(usize::MAX));
                i += 1;
                if args.get(i + 1).is_some_and(|a| args::is(a, "any")) {
                    s.any = true;
                    i += 1;
                }
            }
            b"any" => return Err(Reply::error("ERR the ANY argument requires COUNT argument")),
            b"withcoord" => s.withcoord = true,
            b"withdist" => s.withdist = true,
            b"withhash" => s.withhash = true,
            b"storedist" if store => s.storedist = true,
            _ => return Err(errors::syntax()),
        }
        i += 1;
    }
    if store && (s.withcoord || s.withdist || s.withhash) {
        return Err(Reply::error("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    }
    let name = if store { "GEOSEARCHSTORE" } else { "GEOSEARCH" };
    if s.center.is_none() && s.from_member.is_none() {
        return Err(Reply::error(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")));
    }
    if s.shape.is_none() {
        return Err(Reply::error(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    Ok(s)
}

/// The members inside the search shape, as `(member, distance m, hash, lon, lat)`, sorted.
fn run_search(zset: &ZSet, search: &Search, center: (f64, f64)) -> Vec<(Bytes, f64, u64, f64, f64)> {
    let Some((shape, _)) = &search.shape else { return Vec::new() };
    let (cx, cy) = center;
    let mut hits: Vec<(Bytes, f64, u64, f64, f64)> = Vec::new();
    for (member, score) in zset.iter() {
        let bits = score as u64;
        let (x, y) = decode(bits);
        let dist = match shape {
            Shape::Radius(radius) => {
                let d = distance(x, y, cx, cy);
                if d > *radius {
                    continue;
                }
                d
            }
            Shape::Box(width, height) => {
                if lat_distance(y, cy) > height / 2.0 || distance(x, cy, cx, cy) > width / 2.0 {
                    continue;
                }
                distance(cx, cy, x, y)
            }
        };
        hits.push((Bytes::copy_from_slice(member), dist, bits, x, y));
        if search.any && search.count.is_some_and(|n| hits.len() >= n) {
            break;
        }
    }
    let desc = search.desc == Some(true);
    hits.sort_by(|a, b| if desc { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    if let Some(n) = search.count {
        hits.truncate(n);
    }
    hits
}

fn search_generic(ctx: &mut Ctx<'_>, args: &[Bytes], store: bool) -> Reply {
    let (source, first) = if store { (&args[2], 3) } else { (&args[1], 2) };
    let search = match parse_search(args.get(first..).unwrap_or_default(), store) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let hits = {
        let zset = match zset_mut(ctx.keyspace, db, source) {
            Err(e) => return e,
            Ok(z) => z,
        };
        match zset {
            None => Vec::new(),
            Some(zset) => {
                let center = match (&search.center, &search.from_member) {
                    (Some(c), _) => *c,
                    (None, Some(m)) => match zset.score(m) {
                        Some(s) => decode(s as u64),
                        None => return Reply::error("ERR could not decode requested zset member"),
                    },
                    (None, None) => return errors::syntax(),
                };
                run_search(zset, &search, center)
            }
        }
    };
    let to_meter = search.shape.as_ref().map_or(1.0, |(_, u)| *u);
    if store {
        let limits = limits(ctx);
        let longest = hits.iter().map(|h| h.0.len()).max().unwrap_or(0);
        let mut zset = ZSet::new(limits, hits.len(), longest);
        for (member, dist, bits, _, _) in &hits {
            let score = if search.storedist { dist / to_meter } else { *bits as f64 };
            zset.add(member, score, limits);
        }
        return Reply::from(store_result(ctx.keyspace, db, &args[1], zset, "geosearchstore"));
    }
    let plain = !(search.withcoord || search.withdist || search.withhash);
    Reply::Array(
        hits.into_iter()
            .map(|(member, dist, bits, x, y)| {
                if plain {
                    return Reply::Bulk(member);
                }
                let mut item = vec![Reply::Bulk(member)];
                if search.withdist {
                    item.push(distance_reply(dist, to_meter));
                }
                if search.withhash {
                    item.push(Reply::Integer(i64::try_from(bits).unwrap_or(0)));
                }
                if search.withcoord {
                    item.push(Reply::Array(vec![coord_reply(x), coord_reply(y)]));
                }
                Reply::Array(item)
            })
            .collect(),
    )
}

/// `GEOSEARCH key FROMMEMBER member | FROMLONLAT lon lat BYRADIUS r unit | BYBOX w h unit
/// [ASC | DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`: the members inside a
/// circle or box.
/// Errors: `ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH`,
/// `ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH`,
/// `ERR COUNT must be > 0`, `ERR the ANY argument requires COUNT argument`,
/// `ERR could not decode requested zset member`, `ERR unsupported unit provided. ...`,
/// `ERR syntax error` (for a repeated FROM* or BY*), `WRONGTYPE`.
fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, false)
}

/// `GEOSEARCHSTORE destination source ... [STOREDIST]`: GEOSEARCH, storing the members (with
/// their geohash, or with STOREDIST their distance, as score) in `destination`; replies the
/// count. Errors: as GEOSEARCH, and `ERR GEOSEARCHSTORE is not compatible with WITHDIST,
/// WITHHASH and WITHCOORD options`.
fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, true)
}

/// The geo commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, &["write", "denyoom"], (1, 1, 1), "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", geoadd).since("3.2.0"),
    CommandSpec::new("geopos", -2, &["readonly"], (1, 1, 1), "geo", "Returns the longitude and latitude of members from a geospatial index.", geopos).since("3.2.0"),
    CommandSpec::new("geodist", -4, &["readonly"], (1, 1, 1), "geo", "Returns the distance between two members of a geospatial index.", geodist).since("3.2.0"),
    CommandSpec::new("geohash", -2, &["readonly"], (1, 1, 1), "geo", "Returns members from a geospatial index as geohash strings.", geohash).since("3.2.0"),
    CommandSpec::new("geosearch", -7, &["readonly"], (1, 1, 1), "geo", "Queries a geospatial index for members inside an area of a box or a circle.", geosearch).since("6.2.0"),
    CommandSpec::new("geosearchstore", -8, &["write", "denyoom"], (1, 2, 1), "geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", geosearchstore).since("6.2.0"),
];
