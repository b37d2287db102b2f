//! The dashboard's files, embedded in the binary (no CDN, nothing read
//! from disk at run time). A name is looked up in a fixed table, so no
//! path a request gives can reach anything else (`..` is just a name that
//! is not there).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Name, content type, content.
const FILES: [(&str, &str, &str); 7] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "login.html",
        "text/html; charset=utf-8",
        include_str!("assets/login.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/login.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    // The investigation report's drawing, shared with `investigate
    // --format html`.
    (
        "report.js",
        "text/javascript; charset=utf-8",
        crate::investigate::render::REPORT_JS,
    ),
    (
        "report.css",
        "text/css; charset=utf-8",
        crate::investigate::render::REPORT_CSS,
    ),
];

/// One embedded file as a response, or 404.
pub fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_table_s_names_are_served() {
        assert_eq!(file("app.js").status(), StatusCode::OK);
        for bad in [
            "../Cargo.toml",
            "..%2fCargo.toml",
            "/etc/passwd",
            "",
            "APP.JS",
        ] {
            assert_eq!(file(bad).status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }
}
