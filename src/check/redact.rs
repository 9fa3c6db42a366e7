//! The secrets in a check's data, found and taken out: the data shown (API, page, every
//! notification) has them replaced, and any text that may quote them (a probe's message, a
//! rejection's reason) is scrubbed. gobearmon mailed Basic-auth passwords (its bug 21).
//!
//! What counts as a secret: the value of a secret-named key anywhere in the JSON (string or
//! number), the password or a lone username in a URL's userinfo, the value of a
//! secret-named query parameter in a URL, the http check's request `body` and the tcp
//! check's `payload`, an exec check's `env` values and its plugin arguments that follow a
//! password option (`secret_args`).

use serde_json::Value;

/// JSON keys whose values are secrets, wherever they appear in a check's data (compared
/// lower-case, ignoring `-` and `_`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "apikey",
    "accesstoken",
    "authorization",
    "auth",
    "cookie",
    "privatekey",
    "xapikey",
    "bearer",
    "clientsecret",
];

const REDACTED: &str = "***";

/// Keys whose whole value is a secret in check data: the http check's request body and the
/// tcp check's payload may carry credentials in any form.
const SECRET_WHOLE: &[&str] = &["body", "payload", "signature"];

/// Query parameters whose values are secrets (compared lower-case).
const SECRET_PARAMS: &[&str] =
    &["token", "key", "api_key", "apikey", "access_token", "secret", "password", "sig", "signature"];

fn normalise(k: &str) -> String {
    k.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase()
}

fn is_secret_key(k: &str) -> bool {
    let norm = normalise(k);
    SECRET_KEYS.contains(&norm.as_str())
        || SECRET_WHOLE.contains(&norm.as_str())
        || norm.ends_with("token")
        || norm.ends_with("secret")
        || norm.ends_with("password")
        // Proxy-Authorization and the like.
        || norm.ends_with("authorization")
        // X-Api-Key, X-Custom-Key, X-Auth-Token: vendor headers carrying credentials.
        || (norm.starts_with('x') && norm.ends_with("key"))
}

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&lower.as_str()) || is_secret_key(&lower)
}

/// Whether a JSON text names a secret key anywhere (then its redacted copy is kept even
/// when the secret's value was empty).
fn has_secret_key(data: &str) -> bool {
    let lower = data.to_ascii_lowercase();
    ["pass", "secret", "token", "auth", "key", "cookie", "bearer", "body", "payload", "sig"]
        .iter()
        .any(|k| lower.contains(k))
}

/// Records a secret value and, for `Bearer xyz` / `Basic xyz` forms, the credential alone
/// (a message may quote just that).
fn push_secret(s: &str, found: &mut Vec<String>) {
    if s.is_empty() {
        return;
    }
    found.push(s.to_string());
    if let Some((_, last)) = s.trim().rsplit_once(char::is_whitespace) {
        found.push(last.to_string());
    }
}

/// The values inside a request body or payload (JSON or a form), which a message may quote
/// one at a time.
fn pieces(text: &str, found: &mut Vec<String>) {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => collect(&v, found),
        _ => {
            for (_, v) in url::form_urlencoded::parse(text.trim().as_bytes()) {
                push_secret(&v, found);
            }
        }
    }
}

/// Every string and number inside a secret key's value.
fn collect(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::String(s) => push_secret(s, found),
        Value::Number(n) => found.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect(i, found)),
        Value::Object(map) => map.values().for_each(|i| collect(i, found)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// A URL's secrets: the password, a lone username (`https://TOKEN@host`) and secret-named
/// query parameters. Returns the URL with them replaced, or `None` when it hides nothing.
fn redact_url(s: &str, found: &mut Vec<String>) -> Option<String> {
    let mut u = url::Url::parse(s).ok()?;
    let mut changed = false;
    if let Some(p) = u.password().map(str::to_string) {
        push_secret(&p, found);
        push_secret(&decode(&p, false), found);
        let _ = u.set_password(Some(REDACTED));
        changed = true;
    } else if !u.username().is_empty() {
        let user = u.username().to_string();
        push_secret(&user, found);
        push_secret(&decode(&user, false), found);
        let _ = u.set_username(REDACTED);
        changed = true;
    }
    if let Some(q) = u.query().map(str::to_string) {
        let mut hid = false;
        let parts: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if !value.is_empty() && is_secret_param(&decode(name, true)) => {
                    push_secret(value, found);
                    push_secret(&decode(value, true), found);
                    hid = true;
                    format!("{name}={REDACTED}")
                }
                _ => pair.to_string(),
            })
            .collect();
        if hid {
            u.set_query(Some(&parts.join("&")));
            changed = true;
        }
    }
    changed.then(|| u.to_string())
}

/// Percent-decoding of one URL component; `+` is a space in a query (`plus_is_space`),
/// itself elsewhere. Through `form_urlencoded`, which is the decoder the `url` crate uses.
fn decode(s: &str, plus_is_space: bool) -> String {
    let text = if plus_is_space { s.to_string() } else { s.replace('+', "%2B") };
    url::form_urlencoded::parse(format!("x={}", text.replace('&', "%26").replace('=', "%3D")).as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

/// Short plugin options whose value is a credential in the common Nagios plugins
/// (`check_mysql -p`, `check_ldap -P`, `check_http -a user:pass`, `check_snmp -C`), but a
/// port or a number of days in others (`check_tcp -p 80`, `check_http -C 30,14`): their
/// value counts as a secret unless it is only digits, `,`, `.` and `:`.
const SECRET_SHORT_OPTS: &[char] = &['p', 'P', 'a', 'C'];

/// The arguments of a plugin's argv that are credentials: the value of a long option with a
/// secret name (`--password x`, `--authpassword=x`, `--community x`) and of the short
/// options in [`SECRET_SHORT_OPTS`] (`-p x`, `-px`) when it is not a number. A heuristic:
/// plugins name their options freely, so a site with others should pass them in `env`.
fn secret_args(argv: &[String]) -> Vec<String> {
    let long_secret =
        |name: &str| is_secret_key(name) || normalise(name).ends_with("passwd") || name == "community";
    let numeric = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || ",.:".contains(c));
    let mut found = Vec::new();
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, value)) if long_secret(name) => found.push(value.to_string()),
                None if long_secret(long) => found.extend(args.next().cloned()),
                _ => {}
            }
        } else if let Some(short) = arg.strip_prefix('-')
            && let Some(opt) = short.chars().next()
            && SECRET_SHORT_OPTS.contains(&opt)
        {
            let value = if short.len() > 1 { Some(short[1..].to_string()) } else { args.next().cloned() };
            found.extend(value.filter(|v| !numeric(v)));
        }
    }
    found.retain(|v| !v.is_empty());
    found
}

/// An exec check's `command` (a list) or `command_line` (split as the check does): its
/// secret arguments replaced. A line whose secrets cannot be found as written (escaped in
/// it) is withheld whole.
fn redact_command(key: &str, val: &mut Value, found: &mut Vec<String>) {
    match (key, val) {
        ("command", Value::Array(items)) => {
            let argv: Vec<String> =
                items.iter().map(|i| i.as_str().unwrap_or_default().to_string()).collect();
            let secrets = secret_args(&argv);
            for item in items.iter_mut() {
                if let Value::String(arg) = item {
                    // `--password=x` as well as a lone `x`.
                    for s in &secrets {
                        *arg = arg.replace(s.as_str(), REDACTED);
                    }
                }
            }
            secrets.iter().for_each(|s| push_secret(s, found));
        }
        ("command_line", Value::String(line)) => {
            let secrets = shlex::split(line).map(|argv| secret_args(&argv)).unwrap_or_default();
            let mut shown = line.clone();
            for s in &secrets {
                shown = shown.replace(s.as_str(), REDACTED);
            }
            let left =
                shlex::split(&shown).is_none_or(|argv| secret_args(&argv).iter().any(|a| a != REDACTED));
            *line = if left { REDACTED.to_string() } else { shown };
            secrets.iter().for_each(|s| push_secret(s, found));
        }
        _ => {}
    }
}

fn walk(v: &mut Value, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "env"
                    && let Value::Object(vars) = val
                {
                    // An exec check's environment is where credentials go: every value.
                    for var in vars.values_mut().filter(|v| !v.is_null()) {
                        collect(var, found);
                        *var = Value::String(REDACTED.into());
                    }
                } else if k == "command" || k == "command_line" {
                    redact_command(k, val, found);
                    walk(val, found); // URLs among the arguments
                } else if is_secret_key(k) {
                    if val.is_null() {
                        continue;
                    }
                    collect(val, found);
                    if let Value::String(text) = val
                        && SECRET_WHOLE.contains(&normalise(k).as_str())
                    {
                        pieces(text, found);
                    }
                    *val = Value::String(REDACTED.into());
                } else {
                    walk(val, found);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, found)),
        Value::String(s) => {
            if let Some(r) = redact_url(s, found) {
                *s = r;
            }
        }
        _ => {}
    }
}

/// A check's data with its secrets replaced, and the secret values found (to scrub them
/// from messages too, which may quote a URL or a header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// `None` for a check with nothing to hide (most of them): the controller holds one of
    /// these per check, so the common case costs one pointer.
    parts: Option<Box<RedactedParts>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RedactedParts {
    /// The redacted data, when it differs from the original.
    changed: Option<String>,
    secrets: Vec<String>,
}

impl Redacted {
    /// Redacts `data`; JSON that does not parse is withheld entirely.
    pub fn new(data: &str) -> Self {
        match serde_json::from_str::<Value>(data) {
            Ok(mut v) => {
                let mut secrets = Vec::new();
                walk(&mut v, &mut secrets);
                // Longest first, so a secret containing another is scrubbed whole.
                secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
                secrets.dedup();
                // Most checks have nothing to hide: keep a copy only for those that do.
                let changed = (!secrets.is_empty() || has_secret_key(data)).then(|| v.to_string());
                Redacted::of(changed, secrets)
            }
            Err(_) => Redacted::of(Some("(withheld: not valid JSON)".into()), Vec::new()),
        }
    }

    fn of(changed: Option<String>, secrets: Vec<String>) -> Self {
        let hides = changed.is_some() || !secrets.is_empty();
        Redacted { parts: hides.then(|| Box::new(RedactedParts { changed, secrets })) }
    }

    /// The data to show: `original` with its secrets replaced.
    pub fn data<'a>(&'a self, original: &'a str) -> &'a str {
        self.parts.as_ref().and_then(|p| p.changed.as_deref()).unwrap_or(original)
    }

    /// `text` with every secret of the check replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let Some(parts) = &self.parts else { return out };
        for s in &parts.secrets {
            if s.len() >= 3 {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_everywhere() {
        let r = Redacted::new(
            r#"{"url":"https://bob:hunter22@example.com/x","username":"bob","password":"pw-secret-1","headers":{"Authorization":"Bearer tok-123","X-Api-Key":"k-456","Accept":"json"}}"#,
        );
        let original = r#"{"url":"https://bob:hunter22@example.com/x","username":"bob","password":"pw-secret-1","headers":{"Authorization":"Bearer tok-123","X-Api-Key":"k-456","Accept":"json"}}"#;
        let data = r.data(original);
        for s in ["hunter22", "pw-secret-1", "tok-123", "k-456"] {
            assert!(!data.contains(s), "{s} in {data}");
        }
        assert!(data.contains("\"username\":\"bob\"") && data.contains("json"), "{data}");
        let plain = Redacted::new(r#"{"url":"https://example.com"}"#);
        assert!(plain.parts.is_none(), "no copy for data without secrets");
        assert_eq!(
            r.scrub("GET https://bob:hunter22@example.com/x: 401 for pw-secret-1"),
            "GET https://bob:***@example.com/x: 401 for ***"
        );
    }

    /// Every form a secret takes in gobearmon users' rows, one row each: (data, secrets that
    /// must not survive, text that must stay).
    #[test]
    fn every_form_of_secret_is_taken_out() {
        let table: &[(&str, &[&str], &str)] = &[
            (r#"{"url":"https://h/x?token=tq-1111&page=2"}"#, &["tq-1111"], "page=2"),
            (r#"{"url":"https://h/x?Key=kq-2222"}"#, &["kq-2222"], "https://h/x?Key=***"),
            (r#"{"url":"https://h/x?api_key=aq-3333&APIKEY=aq-4444"}"#, &["aq-3333", "aq-4444"], "h/x"),
            (r#"{"url":"https://h/x?access_token=at-5555&secret=sq-6666"}"#, &["at-5555", "sq-6666"], "h/x"),
            (
                r#"{"url":"https://h/x?password=pq-7777&sig=sg-8888&Signature=sg-9999"}"#,
                &["pq-7777", "sg-8888", "sg-9999"],
                "h/x",
            ),
            (r#"{"url":"https://h/x?token=a%2Fb%2Bc111"}"#, &["a%2Fb%2Bc111", "a/b+c111"], "h/x"),
            (r#"{"url":"https://TOKEN-ui-1234@h/x"}"#, &["TOKEN-ui-1234"], "@h/x"),
            (r#"{"url":"https://bob:hunter22@h/x"}"#, &["hunter22"], "bob"),
            (
                r#"{"headers":{"Proxy-Authorization":"Basic cHJveHk6cHc="}}"#,
                &["Basic cHJveHk6cHc=", "cHJveHk6cHc="],
                "Proxy-Authorization",
            ),
            (r#"{"headers":{"X-Custom-Key":"ck-1234"}}"#, &["ck-1234"], "X-Custom-Key"),
            (r#"{"headers":{"X-Auth-Token":"xt-1234"}}"#, &["xt-1234"], "X-Auth-Token"),
            (r#"{"headers":{"Authorization":"Bearer br-5678"}}"#, &["br-5678"], "Authorization"),
            (
                r#"{"url":"https://h","body":"{\"user\":\"u\",\"pw\":\"bd-1234\"}"}"#,
                &["bd-1234"],
                "https://h",
            ),
            (r#"{"address":"h:25","payload":"AUTH PLAIN pl-5678\r\n"}"#, &["pl-5678"], "h:25"),
            (r#"{"url":"https://h","password":987654}"#, &["987654"], "https://h"),
            (r#"{"auth":{"user":"u","pass":"nested-1234"}}"#, &["nested-1234"], "auth"),
        ];
        for (data, secrets, kept) in table {
            let r = Redacted::new(data);
            let shown = r.data(data);
            let message = format!("error sending request for url ({data}): {}", secrets.join(" and "));
            let scrubbed = r.scrub(&message);
            for secret in *secrets {
                assert!(!shown.contains(secret), "{secret} shown in {shown} (from {data})");
                assert!(!scrubbed.contains(secret), "{secret} left in {scrubbed}");
            }
            assert!(shown.contains(kept), "{kept:?} lost from {shown}");
        }
    }

    /// serde's rejection repeats the offending value: the check's secrets are taken out of
    /// the reason, which the log, the API, the page and `bearmon checks` all show.
    #[test]
    fn a_rejection_never_quotes_a_secret() {
        let data = r#"{"url":"https://h/?token=rj-1234","timeout":"rj-1234"}"#;
        let e = crate::check::CheckSpec::parse(3, "http", data).unwrap_err();
        assert_eq!(e.field, "timeout");
        assert!(!e.to_string().contains("rj-1234"), "{e}");
        let data = r#"{"url":"https://h/?token=rj-5678 x"}"#;
        if let Err(e) = crate::check::CheckSpec::parse(3, "http", data) {
            assert!(!e.to_string().contains("rj-5678"), "{e}");
        }
    }

    /// An exec check's credentials: `env` values, and plugin arguments after a password
    /// option; ports and other numbers after the same letters stay.
    #[test]
    fn exec_command_and_env() {
        let table: &[(&str, &[&str], &[&str])] = &[
            (
                r#"{"command":["/p/check_mysql","-H","db","-u","mon","-p","my-pw-1"]}"#,
                &["my-pw-1"],
                &["check_mysql", "mon"],
            ),
            (r#"{"command":["/p/check_ldap","-P","ld-pw-2","-p","389"]}"#, &["ld-pw-2"], &["389"]),
            (
                r#"{"command":["/p/check_x","--password=eq-pw-3","--authpassword","ap-pw-4"]}"#,
                &["eq-pw-3", "ap-pw-4"],
                &["--password="],
            ),
            (r#"{"command_line":"/p/check_tcp -H h -p 8080"}"#, &[], &["-p 8080"]),
            (
                r#"{"command_line":"/p/check_http -H h -a 'bob:sp ace-5' -p 443"}"#,
                &["bob:sp ace-5"],
                &["-p 443", "check_http"],
            ),
            (r#"{"command_line":"/p/check_snmp -H h -C pub-comm-6 -o x"}"#, &["pub-comm-6"], &["-o x"]),
            (r#"{"command_line":"/p/check_x -pattached-7"}"#, &["attached-7"], &["check_x"]),
            (
                r#"{"command_line":"/p/check_x --privpasswd es\\ caped-8"}"#,
                &["es caped-8", "es\\\\ caped-8"],
                &[],
            ),
            (
                r#"{"command_line":"/p/check_x","env":{"DB_URL":"env-val-9","LANG":"C"}}"#,
                &["env-val-9"],
                &["DB_URL", "LANG"],
            ),
        ];
        for (data, secrets, kept) in table {
            let r = Redacted::new(data);
            let shown = r.data(data);
            let scrubbed = r.scrub(&format!("plugin said: {}", secrets.join(" ")));
            for secret in *secrets {
                assert!(!shown.contains(secret), "{secret} shown in {shown}");
                assert!(!scrubbed.contains(secret), "{secret} left in {scrubbed}");
            }
            for k in *kept {
                assert!(shown.contains(k), "{k:?} lost from {shown}");
            }
        }
    }

    proptest::proptest! {
        /// Secrets generated into every field the redactor knows: none survives in the data
        /// shown or in a message that quotes the whole data, the URL and each secret.
        #[test]
        fn no_generated_secret_survives(
            secrets in proptest::collection::vec("[A-Za-z0-9]{8,16}", 12),
            param in proptest::sample::select(SECRET_PARAMS),
            header in proptest::sample::select(&["Authorization", "Proxy-Authorization", "X-Api-Key", "X-Foo-Key", "X-Foo-Token", "Cookie"][..]),
            key in proptest::sample::select(&["password", "passwd", "secret", "token", "api_key", "client_secret", "private_key", "db_password"][..]),
            upper in proptest::bool::ANY,
        ) {
            let s = &secrets;
            let param = if upper { param.to_ascii_uppercase() } else { param.to_string() };
            let data = serde_json::json!({
                "url": format!("https://u:{}@h.example/p?{param}={}&q=1", s[0], s[1]),
                "other": format!("https://{}@h.example/", s[2]),
                "headers": { header: format!("Bearer {}", s[3]) },
                key: s[4],
                "nested": { "deep": [{ key: s[5] }] },
                "body": format!("user=x&pw={}", s[6]),
                "payload": s[7],
                "numeric": { "password": 10_000_000 + (s[8].len() as u64) * 1_000 },
            })
            .to_string();
            let r = Redacted::new(&data);
            let shown = r.data(&data);
            let url = format!("https://u:{}@h.example/p?{param}={}&q=1", s[0], s[1]);
            let message = r.scrub(&format!("GET {url}: {data} / {}", s[..8].join(" ")));
            for secret in &s[..8] {
                proptest::prop_assert!(!shown.contains(secret.as_str()), "{} in {}", secret, shown);
                proptest::prop_assert!(!message.contains(secret.as_str()), "{} in {}", secret, message);
            }
            let number = (10_000_000 + (s[8].len() as u64) * 1_000).to_string();
            proptest::prop_assert!(!shown.contains(&number) && !message.contains(&number));
        }
    }
}
