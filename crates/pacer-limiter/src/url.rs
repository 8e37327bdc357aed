//! Upstream URLs: the one check and split of an upstream's URL
//! ([`parse_url`] into a [`Target`]), its credentials turned into an
//! `Authorization: Basic` header, and the URL as it may be printed
//! ([`redact_url`], [`strip_credentials`]).

use std::fmt;
use std::str::FromStr;

use http::uri::{Authority, Scheme, Uri};

use crate::encoding::{base64, percent_decode};

/// A validated upstream URL split into what forwarding needs.
#[derive(Clone)]
pub struct Target {
    pub(crate) scheme: Scheme,
    /// Host and port only: the URL's userinfo never reaches `Host`.
    pub(crate) authority: Authority,
    /// The base path without its trailing `/` ("" for none).
    pub(crate) prefix: String,
    /// `Basic` credentials from the URL's userinfo (`http://user:pass@host`),
    /// sent on every request that has no `Authorization` of its own.
    pub(crate) authorization: Option<http::HeaderValue>,
}

/// Never prints the credentials.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The URL as it may be printed: userinfo (`user:password@`) becomes
/// `***@`, whatever else the URL holds. Every place pacer shows an upstream
/// URL (banner, summary, statistics, `pacer config`, errors, reports, logs)
/// goes through here.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL pacer could use; still hide anything before an `@`.
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
    };
    match split_userinfo(rest) {
        Some((_, after)) => format!("{scheme}://***@{after}"),
        None => url.to_owned(),
    }
}

/// The URL without its `user:password@`, and whether it had one (`pacer
/// init` proposes a URL for a file that is usually committed).
pub fn strip_credentials(url: &str) -> (String, bool) {
    match url
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, split_userinfo(rest)?)))
    {
        Some((scheme, (_, after))) => (format!("{scheme}://{after}"), true),
        None => (url.to_owned(), false),
    }
}

/// `user:password` and the rest (host, path, query) of what follows a URL's
/// `scheme://`, when its authority holds an `@`.
fn split_userinfo(rest: &str) -> Option<(&str, String)> {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = authority.rsplit_once('@')?;
    Some((userinfo, format!("{host}{tail}")))
}

/// `Authorization: Basic ...` for a URL's userinfo (`user` or `user:pass`).
fn basic_authorization(userinfo: &str) -> Result<http::HeaderValue, UrlProblem> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut credentials = percent_decode(user);
    credentials.push(b':');
    credentials.extend(percent_decode(password));
    let mut value = http::HeaderValue::try_from(format!("Basic {}", base64(&credentials)))
        .map_err(|_| UrlProblem::NotAUrl)?;
    // Kept out of HTTP/2 header compression tables and debug output.
    value.set_sensitive(true);
    Ok(value)
}

/// What is wrong with an upstream URL; [`UrlProblem::reason`] says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    /// Nothing given.
    Empty,
    /// Not parseable as a URL at all.
    NotAUrl,
    /// Not `http://` or `https://`.
    Scheme,
    /// No host after the scheme.
    NoHost,
    /// A query string, which the proxy could not put in front of every path.
    Query,
    /// Whitespace inside.
    Whitespace,
}

impl UrlProblem {
    /// A lowercase fragment that reads after "the url is refused:".
    pub fn reason(self) -> &'static str {
        match self {
            UrlProblem::Empty => {
                "no url given; set `url` under [tool.pacer.upstreams.NAME] or pass --upstream NAME=URL"
            }
            UrlProblem::NotAUrl => "it is not a valid URL",
            UrlProblem::Scheme => "the scheme must be http or https (start with http:// or https://)",
            UrlProblem::NoHost => "no host",
            UrlProblem::Query => "it has a query; give the base URL only",
            UrlProblem::Whitespace => "it contains whitespace",
        }
    }
}

/// The one check of an upstream URL: `http://` or `https://`, a host, an
/// optional path prefix, no query.
pub fn parse_url(url: &str) -> Result<Target, UrlProblem> {
    if url.trim().is_empty() {
        return Err(UrlProblem::Empty);
    }
    if url.chars().any(char::is_whitespace) {
        return Err(UrlProblem::Whitespace);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlProblem::Scheme);
    };
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::HTTP
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::HTTPS
    } else {
        return Err(UrlProblem::Scheme);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(UrlProblem::NoHost);
    }
    let uri: Uri = url.parse().map_err(|_| UrlProblem::NotAUrl)?;
    if uri.query().is_some() || url.contains('?') {
        return Err(UrlProblem::Query);
    }
    let authority = uri.authority().ok_or(UrlProblem::NoHost)?;
    let (authority, authorization) = match authority.as_str().rsplit_once('@') {
        Some((userinfo, host)) => (
            Authority::from_str(host).map_err(|_| UrlProblem::NoHost)?,
            Some(basic_authorization(userinfo)?),
        ),
        None => (authority.clone(), None),
    };
    let prefix = uri.path().trim_end_matches('/').to_owned();
    Ok(Target {
        scheme,
        authority,
        prefix,
        authorization,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: `http://alice:s3cret@host` was sent as `Host: alice:s3cret@host`.
    #[test]
    fn regression_userinfo_becomes_basic_credentials_never_the_host() {
        let t = parse_url("http://alice:s3cret@api.example.com:8080/v1/").unwrap();
        assert_eq!(t.authority.as_str(), "api.example.com:8080");
        assert_eq!(t.prefix, "/v1");
        assert_eq!(t.authorization.as_ref().unwrap(), "Basic YWxpY2U6czNjcmV0");
        assert!(!format!("{t:?}").contains("s3cret"));
        // `%40` is an `@` inside the password; a user alone has an empty password.
        let t = parse_url("https://bob:p%40ss@h").unwrap();
        assert_eq!(t.authorization.unwrap(), "Basic Ym9iOnBAc3M=");
        let t = parse_url("https://token@h").unwrap();
        assert_eq!(t.authorization.unwrap(), "Basic dG9rZW46");
        assert!(parse_url("https://h/x").unwrap().authorization.is_none());
    }

    #[test]
    fn printed_urls_hide_userinfo() {
        for (url, shown) in [
            ("http://alice:s3cret@host/x", "http://***@host/x"),
            ("https://tok@h:1", "https://***@h:1"),
            ("https://h/a@b", "https://h/a@b"),
            ("http://a:b@c@d/e", "http://***@d/e"),
            ("user:pw@host", "***@host"),
            ("https://h", "https://h"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
