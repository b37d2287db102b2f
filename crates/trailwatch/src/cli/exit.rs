//! Exit codes: the one place they are defined. The README's table and
//! `trailwatch --help` say the same (the help text is [`TABLE`]).

/// Everything went well (also: a query that returned no rows).
pub const EXIT_OK: u8 = 0;
/// Findings the user asked to be told about, and nothing else: `detect
/// --fail-on-alerts` raised alerts, `verify` found tampered, missing or unsigned files,
/// `audit trail` found a problem, `rules test` had a failing case.
pub const EXIT_FINDINGS: u8 = 1;
/// Usage, input or runtime error: a bad flag, an unreadable or
/// undecodable input (unless `--allow-bad`), a rule file or rule that
/// could not be loaded, a failed SQL statement, an
/// unreachable lake or AWS without region or credentials.
pub const EXIT_INPUT: u8 = 2;
/// `notify send|flush --wait` ran out with notifications still pending.
pub const EXIT_PENDING: u8 = 3;

/// The table printed under `trailwatch --help`.
pub const TABLE: &str = "\
Exit codes:
  0  ok (a query with no rows too)
  1  findings you asked about: alerts from detect --fail-on-alerts, failed verify/audit checks, failing rule tests
  2  usage, input or runtime error (bad records unless --allow-bad, rules that could not load, failed SQL, no AWS credentials)
  3  notifications still pending when `notify --wait` ran out";
