//! The Lua libraries Redis embeds for scripts, written in Rust against mlua:
//! [`cjson`] (lua-cjson 2.1.0), [`cmsgpack`] (lua-cmsgpack 0.4.0), [`bit`] (LuaBitOp 1.0.2)
//! and [`structlib`] (Roberto Ierusalimschy's `struct`), installed as the globals `cjson`,
//! `cmsgpack`, `bit` and `struct` by [`register_all`].
//!
//! # How errors are raised
//! The C libraries raise Lua *string* errors: `luaL_error` prefixes the caller's position
//! (`user_script:1: `), `luaL_argerror` words "bad argument #N to 'name' (...)" with the name
//! the caller used (`?` under `pcall`), which the Rust side finds with `inspect_stack`. A Rust
//! callback can only raise mlua's error userdata, which `pcall` would hand to the script as a
//! userdata instead of a string. So each library function is a small C function
//! ([`super::raw::library_function`]) around its Rust implementation: the Rust side returns a
//! private sentinel and the error parts ([`LibError`]), and the C function raises the string
//! with `luaL_where(L, 1)`'s prefix, exactly as `luaL_error` does. Being a C function, not a
//! Lua one, a script's tail call (`return cjson.decode(x)`) keeps the script's frame, so the
//! message and the reply's `script: ..., on @user_script:N.` name its line as Redis's do.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{Function, LightUserData, Lua, MultiValue, Value};

/// Installs `cjson`, `cmsgpack`, `bit` and `struct` as globals of `lua`, as Redis's Lua has them.
///
/// Call once per interpreter, before the sandbox makes globals read-only.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.raw_set("bit", bit::module(lua)?)?;
    globals.raw_set("struct", structlib::module(lua)?)?;
    Ok(())
}

/// Why a library function failed: the ways the C libraries raise errors.
#[derive(Debug)]
pub enum LibError {
    /// `luaL_argerror`: the argument number and the text between the parentheses.
    Arg(i64, Vec<u8>),
    /// `luaL_error`: the message, prefixed with the caller's position.
    Msg(Vec<u8>),
    /// An error the Lua VM raises itself inside the C function (`table index is nil`):
    /// no position prefix.
    Raw(Vec<u8>),
    /// An mlua failure (memory, stack), passed on unchanged.
    Lua(mlua::Error),
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        LibError::Lua(e)
    }
}

impl LibError {
    /// A `luaL_error` message.
    pub fn msg(text: impl Into<Vec<u8>>) -> Self {
        LibError::Msg(text.into())
    }

    /// A `luaL_argerror` for argument `narg`.
    pub fn arg(narg: i64, text: impl Into<Vec<u8>>) -> Self {
        LibError::Arg(narg, text.into())
    }
}

/// Result of a library function's Rust side.
pub type LibResult<T> = Result<T, LibError>;

/// The sentinel a Rust implementation returns first to say "raise the error that follows".
/// Scripts never see it: only [`super::raw::library_function`]'s C function compares against it.
pub(crate) fn fail_marker() -> Value {
    Value::LightUserData(LightUserData(std::ptr::without_provenance_mut(super::raw::LIBRARY_FAIL)))
}

/// Builders of library functions for one Lua state.
#[derive(Clone, Copy)]
pub(crate) struct Wrap;

impl Wrap {
    /// The builders for `lua`.
    pub(crate) fn new(_lua: &Lua) -> mlua::Result<Self> {
        Ok(Wrap)
    }

    /// A library function returning exactly one value; `name` is used in "bad argument"
    /// messages when the call site gives none.
    pub(crate) fn one<F>(&self, lua: &Lua, name: &str, f: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, Args) -> LibResult<Value> + Send + 'static,
    {
        let name = name.to_string();
        let raw = lua.create_function(move |lua, args: MultiValue| {
            match f(lua, Args::new(lua, args)) {
                Ok(v) => Ok(MultiValue::from_iter([v])),
                Err(e) => failure(lua, e, &name),
            }
        })?;
        super::raw::library_function(lua, raw, super::raw::Results::One)
    }

    /// A library function returning any number of values.
    pub(crate) fn many<F>(&self, lua: &Lua, name: &str, f: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, Args) -> LibResult<Vec<Value>> + Send + 'static,
    {
        let name = name.to_string();
        let raw = lua.create_function(move |lua, args: MultiValue| {
            match f(lua, Args::new(lua, args)) {
                Ok(vs) => {
                    // A table and its length rather than many stack values: the C function
                    // then returns as many values as Lua's stack takes (as `unpack` does).
                    let n = vs.len();
                    let has_nil = vs.iter().any(|v| matches!(v, Value::Nil));
                    let t = lua.create_table_with_capacity(n, 0)?;
                    for (i, v) in vs.into_iter().enumerate() {
                        t.raw_set(i + 1, v)?;
                    }
                    let count = if has_nil { Value::Integer(n as i64) } else { Value::Nil };
                    Ok(MultiValue::from_iter([Value::Table(t), count]))
                }
                Err(e) => failure(lua, e, &name),
            }
        })?;
        super::raw::library_function(lua, raw, super::raw::Results::Table)
    }
}

/// Turns a [`LibError`] into the sentinel and parts the wrappers raise from.
fn failure(lua: &Lua, e: LibError, canon: &str) -> mlua::Result<MultiValue> {
    let (kind, text) = match e {
        LibError::Lua(e) => return Err(e),
        LibError::Arg(n, text) => (2, arg_error_text(lua, n, &text, canon)),
        LibError::Msg(text) => (2, text),
        LibError::Raw(text) => (3, text),
    };
    Ok(MultiValue::from_iter([fail_marker(), Value::Integer(kind), Value::String(lua.create_string(text)?)]))
}

/// `luaL_argerror`'s text, with the function named as the caller named it: level 1 is the
/// C function around the Rust side, level 2 its caller. A wrapper called through `pcall` (a C caller) is `?`;
/// one reached by a tail call has lost its name, and the library's own name stands in (Redis
/// names it from the calling instruction).
fn arg_error_text(lua: &Lua, narg: i64, extra: &[u8], canon: &str) -> Vec<u8> {
    let (name, what) = lua
        .inspect_stack(1, |d| {
            let n = d.names();
            (n.name.map(|s| s.into_owned()), n.name_what)
        })
        .unwrap_or((None, None));
    let caller = lua.inspect_stack(2, |d| d.source().what).unwrap_or("C");
    let name = name.unwrap_or_else(|| if caller == "tail" { canon.to_string() } else { "?".to_string() });
    let mut narg = narg;
    let mut text = Vec::new();
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            text.extend_from_slice(format!("calling '{name}' on bad self (").as_bytes());
            text.extend_from_slice(extra);
            text.push(b')');
            return text;
        }
    }
    text.extend_from_slice(format!("bad argument #{narg} to '{name}' (").as_bytes());
    text.extend_from_slice(extra);
    text.push(b')');
    text
}

/// The arguments of a library call, with the `luaL_check*` family's conversions and errors.
pub(crate) struct Args {
    vals: Vec<Value>,
    lua: Lua,
}

impl Args {
    fn new(lua: &Lua, args: MultiValue) -> Self {
        Args { vals: args.into_iter().collect(), lua: lua.clone() }
    }

    /// Number of arguments (`lua_gettop`).
    pub(crate) fn len(&self) -> usize {
        self.vals.len()
    }

    /// Argument `n` (1-based); `None` when absent ("no value").
    pub(crate) fn get(&self, n: usize) -> Option<&Value> {
        n.checked_sub(1).and_then(|i| self.vals.get(i))
    }

    /// `lua_isnoneornil`.
    pub(crate) fn is_none_or_nil(&self, n: usize) -> bool {
        matches!(self.get(n), None | Some(Value::Nil))
    }

    /// `luaL_typename`: the type name of argument `n`, "no value" when absent.
    pub(crate) fn type_name(&self, n: usize) -> &'static str {
        self.get(n).map_or("no value", lua_type_name)
    }

    /// `luaL_typerror`.
    pub(crate) fn type_error(&self, n: usize, expected: &str) -> LibError {
        LibError::arg(
            n as i64,
            format!("{expected} expected, got {}", self.type_name(n)),
        )
    }

    /// `lua_tonumber`: numbers and numeric strings, `None` otherwise.
    pub(crate) fn to_number(&self, n: usize) -> Option<f64> {
        match self.get(n)? {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(x) => Some(*x),
            v @ Value::String(_) => self.lua.coerce_number(v.clone()).ok().flatten(),
            _ => None,
        }
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, n: usize) -> LibResult<f64> {
        self.to_number(n).ok_or_else(|| self.type_error(n, "number"))
    }

    /// `luaL_checkinteger`: the number truncated as C's cast does.
    pub(crate) fn check_integer(&self, n: usize) -> LibResult<i64> {
        self.check_number(n).map(number_to_integer)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, n: usize, default: i64) -> LibResult<i64> {
        if self.is_none_or_nil(n) { Ok(default) } else { self.check_integer(n) }
    }

    /// `luaL_checklstring`: strings, and numbers converted as Lua converts them.
    pub(crate) fn check_bytes(&self, n: usize) -> LibResult<Vec<u8>> {
        match self.get(n) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => match self.lua.coerce_string(v.clone())? {
                Some(s) => Ok(s.as_bytes().to_vec()),
                None => Err(self.type_error(n, "string")),
            },
            _ => Err(self.type_error(n, "string")),
        }
    }
}

/// `lua_typename` of a value as Lua 5.1 names it.
pub(crate) fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A Lua number as a double, for values of type number.
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(x) => Some(*x),
        _ => None,
    }
}

/// C's `(long)d` on x86-64: truncation, and `LONG_MIN` for NaN and out-of-range values.
pub(crate) fn number_to_integer(d: f64) -> i64 {
    if d.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `printf("%.<prec>g", x)` as glibc prints it.
pub(crate) fn format_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    let p = prec.max(1);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i64>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    let p = p as i64;
    if exp < p && exp >= -4 {
        let decimals = usize::try_from(p - 1 - exp).unwrap_or(0);
        strip_zeros(format!("{x:.decimals$}"))
    } else {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn strip_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Runs `code` in a fresh Lua state with the libraries installed (tests).
#[cfg(test)]
pub(crate) fn test_lua() -> Lua {
    let lua = Lua::new();
    #[allow(clippy::unwrap_used)]
    register_all(&lua).unwrap();
    lua
}

/// Evaluates `code` as a function body and returns its first result passed through
/// `tostring`; a raised error comes back as `Err(message)` (tests).
#[cfg(test)]
pub(crate) fn eval(lua: &Lua, code: &str) -> Result<String, String> {
    let wrapped = format!(
        "local ok, r = pcall(function() {code} end) return ok, tostring(r)"
    );
    let (ok, text): (bool, mlua::LuaString) = lua
        .load(wrapped)
        .set_name("@user_script")
        .eval()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&text.as_bytes()).into_owned();
    if ok { Ok(text) } else { Err(text) }
}

/// [`eval`] in a fresh state from [`test_lua`] (tests).
#[cfg(test)]
pub(crate) fn run(code: &str) -> Result<String, String> {
    eval(&test_lua(), code)
}

/// Evaluates `code` (which must return a string) in a fresh state and renders the string's
/// bytes as lower-case hex (tests of the binary encoders).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn run_hex(code: &str) -> String {
    let lua = test_lua();
    let s: mlua::LuaString = lua.load(code).eval().unwrap();
    s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_printf() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(format_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(1e15, 14), "1e+15");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(-2.5, 1), "-2");
        assert_eq!(format_g(-0.0, 14), "-0");
    }

    /// Development aid: evaluates every line of `$LUA_LIBS_CASES` in the harness
    /// `$LUA_LIBS_HARNESS` (EXPR replaced by the line) in a fresh state and prints
    /// "line<TAB>result", to diff against the same run through redis-server's EVAL.
    #[test]
    #[ignore]
    #[allow(clippy::unwrap_used)]
    fn print_case_results_for_comparison() {
        let (Ok(cases), Ok(harness)) = (std::env::var("LUA_LIBS_CASES"), std::env::var("LUA_LIBS_HARNESS")) else {
            return;
        };
        let harness = std::fs::read_to_string(harness).unwrap();
        let mut out = String::new();
        for line in std::fs::read_to_string(cases).unwrap().lines() {
            let e = line.trim();
            if e.is_empty() {
                continue;
            }
            let lua = test_lua();
            let script = harness.replace("EXPR", e);
            let r = lua.load(script).set_name("@user_script").eval::<mlua::LuaString>();
            let text = match r {
                Ok(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                Err(e) => format!("LUAERR {e}"),
            };
            out.push_str(&format!("{e}\t{}\n", text.trim().replace('\n', "\\n")));
        }
        std::fs::write(std::env::var("LUA_LIBS_OUT").unwrap_or("/tmp/lua_libs.out".into()), out).unwrap();
    }
}
